import type { Message } from '@platform/messaging-client/contract';
import { describe, expect, it } from 'vitest';
import { AppError } from '../contract/app-error.js';
import { ReadAdmission } from '../admission/read-admission.js';
import type { RealtimeNotifier } from '../contract/realtime-notifier.port.js';
import type { AppConfig } from '../config/config.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import type { TypingService } from '../typing/typing.service.js';
import type { MarkOutcome, MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';
import { applyReceipt, type ReceiptKind, type Watermarks } from './receipts.js';
import type { InsertOutcome, NewMessage } from './send-pipeline.js';

const CONVERSATION = '0190f000-0000-7000-8000-000000000001';

/** The repository's contract in memory: gap-free seq, one row per (sender, clientMessageId), receipts as watermarks. */
class InMemoryMessages {
  readonly rows: Message[] = [];
  readonly watermarks = new Map<string, Watermarks>();

  async insertBatch(messages: NewMessage[]): Promise<InsertOutcome[]> {
    return messages.map((input) => this.insert(input));
  }
  async insertOne(message: NewMessage): Promise<InsertOutcome> {
    return this.insert(message);
  }
  isRetryableOneByOne(): boolean {
    return false;
  }

  private insert(input: NewMessage): InsertOutcome {
    const original = input.clientMessageId && this.rows.find((row) => row.senderId === input.senderId && row.clientMessageId === input.clientMessageId);
    if (original) return { created: false, message: original };
    const seq = this.rows.filter((row) => row.conversationId === input.conversationId).length + 1;
    const message: Message = { messageId: input.id, conversationId: input.conversationId, senderId: input.senderId, text: input.text, seq, timestamp: new Date().toISOString() };
    if (input.clientMessageId) message.clientMessageId = input.clientMessageId;
    this.rows.push(message);
    return { created: true, message };
  }

  async markDelivered(conversationId: string, recipientId: string, targetId: string): Promise<MarkOutcome> {
    return this.mark('delivered', conversationId, recipientId, targetId);
  }
  async markRead(conversationId: string, recipientId: string, targetId: string): Promise<MarkOutcome> {
    return this.mark('read', conversationId, recipientId, targetId);
  }

  /** The receipt rules on the rows: the newest message addressed to the participant in the range stamped. */
  private mark(kind: ReceiptKind, conversationId: string, recipientId: string, targetId: string): MarkOutcome {
    const target = this.rows.find((row) => row.messageId === targetId && row.conversationId === conversationId);
    if (!target) return { targetFound: false };
    const { next, stamps } = applyReceipt(this.watermarks.get(recipientId) ?? { deliveredSeq: 0, readSeq: 0 }, kind, target.seq);
    this.watermarks.set(recipientId, next);
    const newest = stamps && this.rows.filter((row) => row.conversationId === conversationId && row.senderId !== recipientId && row.seq > stamps.after && row.seq <= stamps.upTo).at(-1);
    return newest ? { targetFound: true, newest: { id: newest.messageId, at: new Date() } } : { targetFound: true };
  }

  async history(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<Message[]> {
    return this.rows
      .filter((row) => row.conversationId === conversationId && (beforeSeq === undefined || row.seq < beforeSeq))
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit);
  }
}

/** What the notifier was told, in order. */
class RecordingNotifier implements RealtimeNotifier {
  readonly told: string[] = [];
  newMessage(message: Message, recipientId: string): void {
    this.told.push(`newMessage ${message.seq} → ${recipientId}`);
  }
  messageDelivered(senderId: string, event: { messageId: string }): void {
    this.told.push(`delivered ${event.messageId} → ${senderId}`);
  }
  messageRead(senderId: string, event: { messageId: string }): void {
    this.told.push(`read ${event.messageId} → ${senderId}`);
  }
  typing(): void {}
  typingStopped(): void {}
}

function setup(options: { connected?: boolean; rate?: number } = {}) {
  const config = { rateLimitMessagesPerSecond: options.rate ?? 10, rateLimitReadsPerSecond: 20, messageMaxLength: 100, databasePoolSize: 10 } as AppConfig;
  const repository = new InMemoryMessages();
  const notifier = new RecordingNotifier();
  const cleared: string[] = [];
  const calls: string[] = [];
  const conversations = {
    async requireMembership(actor: { userId: string }, conversationId: string) {
      calls.push(`membership ${actor.userId}`);
      if (conversationId !== CONVERSATION || !['alice', 'bob'].includes(actor.userId)) throw AppError.permissionDenied();
      return { conversationId, userA: 'alice', userB: 'bob', otherId: actor.userId === 'alice' ? 'bob' : 'alice' };
    },
    async requireConnected(userId: string) {
      calls.push(`connected ${userId}`);
      if (options.connected === false) throw AppError.permissionDenied('not a first-degree connection');
    },
  } as unknown as ConversationsService;
  const typing = { clearAfterSend: (conversationId: string, userId: string) => cleared.push(`${conversationId} ${userId}`) } as unknown as TypingService;
  const service = new MessagesService(repository as unknown as MessagesRepository, conversations, typing, new Metrics(), notifier, config, new ReadAdmission(config));
  return { service, repository, notifier, cleared, calls };
}

const alice = { userId: 'alice', socketId: 'a1' };
const bob = { userId: 'bob', socketId: 'b1' };
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'ok', (error: { code?: string }) => error.code);

describe('MessagesService', () => {
  it('stores, then tells the recipient and clears the typist’s indicator; the answer is the stored message', async () => {
    const { service, repository, notifier, cleared } = setup();
    const message = await service.send(alice, { conversationId: CONVERSATION, text: 'hello', clientMessageId: 'c1' });
    expect(message).toMatchObject({ seq: 1, senderId: 'alice', text: 'hello', clientMessageId: 'c1' });
    expect(repository.rows).toEqual([message]);
    expect(notifier.told).toEqual(['newMessage 1 → bob']);
    expect(cleared).toEqual([`${CONVERSATION} alice`]);
  });

  it('answers a repeated clientMessageId with the original, and tells no one again', async () => {
    const { service, repository, notifier } = setup();
    const first = await service.send(alice, { conversationId: CONVERSATION, text: 'hello', clientMessageId: 'c1' });
    const again = await service.send(alice, { conversationId: CONVERSATION, text: 'hello, edited', clientMessageId: 'c1' });
    expect(again).toEqual(first);
    expect(repository.rows).toHaveLength(1);
    expect(notifier.told).toEqual(['newMessage 1 → bob']);
  });

  it('checks text, rate, membership and connection in that order, storing and telling nothing on refusal', async () => {
    const refusedText = setup();
    expect(await codeOf(refusedText.service.send(alice, { conversationId: CONVERSATION, text: '   ', clientMessageId: undefined }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(refusedText.service.send(alice, { conversationId: CONVERSATION, text: 'x'.repeat(101), clientMessageId: undefined }))).toBe('INVALID_ARGUMENT');
    expect(refusedText.calls).toEqual([]);

    const stranger = setup();
    expect(await codeOf(stranger.service.send({ userId: 'mallory' }, { conversationId: CONVERSATION, text: 'hi', clientMessageId: undefined }))).toBe('PERMISSION_DENIED');
    expect(stranger.calls).toEqual(['membership mallory']);

    const disconnected = setup({ connected: false });
    expect(await codeOf(disconnected.service.send(alice, { conversationId: CONVERSATION, text: 'hi', clientMessageId: undefined }))).toBe('PERMISSION_DENIED');
    expect(disconnected.calls).toEqual(['membership alice', 'connected alice']);

    for (const { repository, notifier } of [refusedText, stranger, disconnected]) {
      expect(repository.rows).toEqual([]);
      expect(notifier.told).toEqual([]);
    }
  });

  it('limits sends per user (burst twice the rate) before any lookup; others keep their budget', async () => {
    const { service, calls } = setup({ rate: 2 });
    const outcomes = [];
    for (let index = 0; index < 6; index++) outcomes.push(await codeOf(service.send(alice, { conversationId: CONVERSATION, text: `m${index}`, clientMessageId: undefined })));
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED']);
    expect(calls.filter((call) => call === 'membership alice')).toHaveLength(4);
    expect(await codeOf(service.send(bob, { conversationId: CONVERSATION, text: 'mine', clientMessageId: undefined }))).toBe('ok');
  });

  it('broadcasts concurrent sends of one conversation in seq order', async () => {
    const { service, notifier } = setup({ rate: 100 });
    const sent = await Promise.all(Array.from({ length: 20 }, (_, index) => service.send(index % 2 ? bob : alice, { conversationId: CONVERSATION, text: `m${index}`, clientMessageId: undefined })));
    expect(sent.map((message) => message.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(notifier.told.map((entry) => Number(entry.split(' ')[1]))).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
  });

  it('receipts: NOT_FOUND for another conversation’s message, a notice only when something newly moved', async () => {
    const { service, notifier } = setup();
    const [m1, m2] = [await service.send(alice, { conversationId: CONVERSATION, text: 'one', clientMessageId: undefined }), await service.send(alice, { conversationId: CONVERSATION, text: 'two', clientMessageId: undefined })];
    notifier.told.length = 0;
    expect(await codeOf(service.markRead(bob, { conversationId: CONVERSATION, lastReadMessageId: '0190f000-0000-7000-8000-00000000dead' }))).toBe('NOT_FOUND');
    await service.markDelivered(bob, { conversationId: CONVERSATION, lastDeliveredMessageId: m2.messageId });
    await service.markDelivered(bob, { conversationId: CONVERSATION, lastDeliveredMessageId: m1.messageId });
    await service.markRead(bob, { conversationId: CONVERSATION, lastReadMessageId: m1.messageId });
    await service.markRead(bob, { conversationId: CONVERSATION, lastReadMessageId: m1.messageId });
    // m2 is read now, so it was delivered: a delivery receipt for it is behind and tells no one.
    await service.markRead(bob, { conversationId: CONVERSATION, lastReadMessageId: m2.messageId });
    await service.markDelivered(bob, { conversationId: CONVERSATION, lastDeliveredMessageId: m2.messageId });
    expect(notifier.told).toEqual([`delivered ${m2.messageId} → alice`, `read ${m1.messageId} → alice`, `read ${m2.messageId} → alice`]);
    expect(await codeOf(service.markRead({ userId: 'mallory' }, { conversationId: CONVERSATION, lastReadMessageId: m1.messageId }))).toBe('PERMISSION_DENIED');
  });

  it('pages history newest first with a cursor that ends at seq 1, and refuses a forged cursor', async () => {
    const { service } = setup({ rate: 100 });
    for (let index = 0; index < 5; index++) await service.send(alice, { conversationId: CONVERSATION, text: `m${index}`, clientMessageId: undefined });
    const seqs: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await service.history(bob, { conversationId: CONVERSATION, pageSize: 2, paginationCursor: cursor });
      seqs.push(...page.items.map((message) => message.seq));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seqs).toEqual([5, 4, 3, 2, 1]);
    expect(await codeOf(service.history(bob, { conversationId: CONVERSATION, pageSize: 2, paginationCursor: 'forged' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(service.history({ userId: 'mallory' }, { conversationId: CONVERSATION, pageSize: 2, paginationCursor: undefined }))).toBe('PERMISSION_DENIED');
  });
});
