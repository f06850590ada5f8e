import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import type { AckResult } from '@platform/messaging-client/contract';
import { clientMessageId, messageText, userId } from '../support/factories.js';
import { settle, type TestClient } from '../support/socket-client.js';
import { useApp } from '../support/use-app.js';

const outcome = (result: AckResult<unknown>): string => (result.ok ? 'ok' : result.error.code);
const isIso = (value: string | undefined): boolean => value !== undefined && new Date(value).toISOString() === value;
const seqs = (messages: Message[]): number[] => messages.map((message) => message.seq);
const uniqueById = (messages: Message[]): Message[] => [...new Map(messages.map((message) => [message.messageId, message])).values()];
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, index) => from + index);
/** The untyped socket, for frames the typed client API would refuse (no ack, several arguments). */
const raw = (client: TestClient): Socket => client.socket as unknown as Socket;

async function history(client: TestClient, conversationId: string, extra: Record<string, unknown> = {}) {
  return client.ok('getMessageHistory', { conversationId, ...extra });
}

/** Every message of the conversation, oldest first, walked through history pages. */
async function allMessages(client: TestClient, conversationId: string): Promise<Message[]> {
  const found: Message[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.ok('getMessageHistory', { conversationId, pageSize: 100, ...(cursor ? { paginationCursor: cursor } : {}) });
    found.push(...page.messages);
    cursor = page.nextCursor;
  } while (cursor);
  return found.reverse();
}

describe('sendMessage', () => {
  const ctx = useApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000' });

  it('acknowledges the stored message with seq 1, 2, 3, an ISO timestamp and the echoed clientMessageId', async () => {
    const { alice, a1, conversationId } = await ctx.pair();
    const ids = [clientMessageId(), undefined, clientMessageId()];
    const texts = [messageText(), messageText(), messageText()];
    const sent: Message[] = [];
    for (const [index, text] of texts.entries()) {
      const id = ids[index];
      sent.push((await a1.ok('sendMessage', { conversationId, text, ...(id ? { clientMessageId: id } : {}) })).message);
    }

    expect(seqs(sent)).toEqual([1, 2, 3]);
    sent.forEach((message, index) => {
      expect(message).toMatchObject({ conversationId, senderId: alice, text: texts[index] });
      expect(isIso(message.timestamp)).toBe(true);
      expect(message.deliveredAt).toBeUndefined();
      expect(message.readAt).toBeUndefined();
    });
    expect(sent[0]?.clientMessageId).toBe(ids[0]);
    expect(sent[1] && 'clientMessageId' in sent[1]).toBe(false);
    expect(sent[2]?.clientMessageId).toBe(ids[2]);
    expect(new Set(sent.map((message) => message.messageId)).size).toBe(3);
    expect(Date.parse(sent[0]!.timestamp)).toBeLessThanOrEqual(Date.parse(sent[2]!.timestamp));

    // What was acknowledged is exactly what is stored.
    expect(await allMessages(a1, conversationId)).toEqual(sent);
  });

  it('stores the text verbatim, surrounding whitespace included', async () => {
    const { a1, conversationId } = await ctx.pair();
    const text = '  hello\n  world  ';
    const { message } = await a1.ok('sendMessage', { conversationId, text });
    expect(message.text).toBe(text);
    expect((await history(a1, conversationId)).messages[0]?.text).toBe(text);
  });

  it("sends newMessage to every socket of the recipient and the sender's other sockets, not the sending socket nor anyone else", async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const a2 = await ctx.connect(alice);
    const [b1, b2] = [await ctx.connect(bob), await ctx.connect(bob)];
    const carol = userId('carol');
    ctx.app.graph.connect(alice, carol);
    ctx.app.graph.connect(bob, carol);
    const c1 = await ctx.connect(carol);

    const { message } = await a1.ok('sendMessage', { conversationId, text: messageText(), clientMessageId: clientMessageId() });

    for (const client of [a2, b1, b2]) expect(await client.waitFor('newMessage')).toEqual([message]);
    await ctx.drained();
    for (const client of [a2, b1, b2]) expect(client.received).toEqual([{ event: 'newMessage', payload: message }]);
    expect(a1.received).toEqual([]);
    expect(c1.received).toEqual([]);
  });

  it('returns the original message for a repeated clientMessageId and stores and broadcasts nothing new', async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const a2 = await ctx.connect(alice);
    const b1 = await ctx.connect(bob);
    const id = clientMessageId();

    const original = (await a1.ok('sendMessage', { conversationId, text: 'first', clientMessageId: id })).message;
    const again = (await a1.ok('sendMessage', { conversationId, text: 'first', clientMessageId: id })).message;
    const changedText = (await a1.ok('sendMessage', { conversationId, text: 'edited retry', clientMessageId: id })).message;
    // The retry may come from another socket of the same user (a reconnect).
    const fromOtherSocket = (await a2.ok('sendMessage', { conversationId, text: 'first', clientMessageId: id })).message;

    for (const duplicate of [again, changedText, fromOtherSocket]) expect(duplicate).toEqual(original);
    await b1.waitFor('newMessage');
    await ctx.drained();
    expect(b1.events('newMessage')).toEqual([original]);
    expect(a2.events('newMessage')).toEqual([original]);
    expect(a1.events('newMessage')).toEqual([]);
    expect(await allMessages(a1, conversationId)).toEqual([original]);

    // The duplicates consumed no seq: the next message is 2.
    expect((await a1.ok('sendMessage', { conversationId, text: messageText() })).message.seq).toBe(2);
  });

  it('stores a clientMessageId repeated concurrently once', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const id = clientMessageId();
    const results = await Promise.all(range(1, 6).map(() => a1.ok('sendMessage', { conversationId, text: 'same', clientMessageId: id })));
    expect(new Set(results.map((result) => result.message.messageId)).size).toBe(1);
    expect(results[0]?.message.seq).toBe(1);
    await b1.waitFor('newMessage');
    await ctx.drained();
    expect(b1.events('newMessage')).toHaveLength(1);
    expect(await allMessages(a1, conversationId)).toHaveLength(1);
  });

  it('scopes clientMessageId to its sender: the other participant may use the same one', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const id = clientMessageId();
    const fromAlice = (await a1.ok('sendMessage', { conversationId, text: messageText(), clientMessageId: id })).message;
    const fromBob = (await b1.ok('sendMessage', { conversationId, text: messageText(), clientMessageId: id })).message;
    expect(fromBob.messageId).not.toBe(fromAlice.messageId);
    expect(fromBob).toMatchObject({ senderId: bob, seq: 2, clientMessageId: id });
  });

  it('gives concurrent sends from both sides gap-free seqs, seen in one order by every socket, live and in history', async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const a2 = await ctx.connect(alice);
    const [b1, b2] = [await ctx.connect(bob), await ctx.connect(bob)];
    const perSide = 15;

    const acks = await Promise.all(
      range(1, perSide).flatMap((index) => [
        a1.ok('sendMessage', { conversationId, text: `a${index}` }),
        b1.ok('sendMessage', { conversationId, text: `b${index}` }),
      ]),
    );
    const sent = acks.map((ack) => ack.message).sort((x, y) => x.seq - y.seq);
    const total = perSide * 2;
    expect(seqs(sent)).toEqual(range(1, total));

    const fromAlice = sent.filter((message) => message.senderId === alice);
    const fromBob = sent.filter((message) => message.senderId === bob);
    // Observers of both sides see every message in seq order; the senders see the other side's, in seq order.
    // A socket that has just connected may get a message twice, live and from its catch-up (CONTRACT
    // §3.3 lets clients dedupe by messageId), never out of order or missing.
    const received = async (client: TestClient, count: number) => {
      await client.waitFor('newMessage', undefined, { count });
      await client.drained();
      return uniqueById(client.events('newMessage'));
    };
    expect(await received(a2, total)).toEqual(sent);
    expect(await received(b2, total)).toEqual(sent);
    expect(await received(a1, perSide)).toEqual(fromBob);
    expect(await received(b1, perSide)).toEqual(fromAlice);

    expect(await allMessages(b1, conversationId)).toEqual(sent);
  });

  it('rejects an empty or whitespace-only text with INVALID_ARGUMENT and stores nothing', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    for (const text of ['', ' ', '   \t\n  ', '\u00a0\u3000']) {
      expect(await a1.emit('sendMessage', { conversationId, text })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    await ctx.drained();
    expect(b1.received).toEqual([]);
    expect((await history(a1, conversationId)).messages).toEqual([]);
  });

  it('refuses a conversation the sender is not part of, or that does not exist, with PERMISSION_DENIED, storing nothing', async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const mallory = userId('mallory');
    // Even connected to both participants, a third user is not a participant.
    ctx.app.graph.connect(mallory, alice);
    ctx.app.graph.connect(mallory, bob);
    const m1 = await ctx.connect(mallory);

    expect(outcome(await m1.emit('sendMessage', { conversationId, text: messageText() }))).toBe('PERMISSION_DENIED');
    expect(outcome(await m1.emit('sendMessage', { conversationId: randomUUID(), text: messageText() }))).toBe('PERMISSION_DENIED');
    expect(outcome(await a1.emit('sendMessage', { conversationId: randomUUID(), text: messageText() }))).toBe('PERMISSION_DENIED');
    // The two refusals are indistinguishable, so conversation ids cannot be probed.
    const [notMine, unknown] = await Promise.all([
      m1.emit('sendMessage', { conversationId, text: 'x' }),
      m1.emit('sendMessage', { conversationId: randomUUID(), text: 'x' }),
    ]);
    expect(notMine).toEqual(unknown);

    await ctx.drained();
    expect(a1.received).toEqual([]);
    expect(b1.received).toEqual([]);
    expect((await history(a1, conversationId)).messages).toEqual([]);
  });

  it('rejects malformed payloads with INVALID_ARGUMENT and keeps the socket', async () => {
    const { a1, conversationId } = await ctx.pair();
    const payloads: unknown[] = [
      undefined,
      null,
      42,
      'hello',
      [],
      [conversationId, 'hello'],
      {},
      { conversationId },
      { text: 'hello' },
      { conversationId: 'not-a-uuid', text: 'hello' },
      { conversationId: 7, text: 'hello' },
      { conversationId, text: 5 },
      { conversationId, text: ['hello'] },
      { conversationId, text: { value: 'hello' } },
      { conversationId, text: null },
      { conversationId, text: 'hello', clientMessageId: 5 },
      { conversationId, text: 'hello', clientMessageId: '' },
      { conversationId, text: 'hello', clientMessageId: 'x'.repeat(129) },
    ];
    for (const payload of payloads) {
      expect(await a1.emit('sendMessage', payload), JSON.stringify(payload)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    // No payload at all, and several arguments instead of one.
    expect(await raw(a1).timeout(5000).emitWithAck('sendMessage')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await raw(a1).timeout(5000).emitWithAck('sendMessage', conversationId, 'hello')).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT' },
    });
    for (const [event, payload] of [
      ['markAsDelivered', { conversationId, lastDeliveredMessageId: 'nope' }],
      ['markAsDelivered', { conversationId }],
      ['markAsRead', { conversationId, lastReadMessageId: 3 }],
      ['markAsRead', 'read'],
      ['getMessageHistory', { conversationId: 'nope' }],
      ['getMessageHistory', null],
    ] as const) {
      expect(await a1.emit(event, payload), `${event} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    expect(a1.socket.connected).toBe(true);
    expect((await history(a1, conversationId)).messages).toEqual([]);
    expect((await a1.ok('sendMessage', { conversationId, text: messageText() })).message.seq).toBe(1);
  });

  it('ignores unknown extra fields', async () => {
    const { alice, a1, conversationId } = await ctx.pair();
    const { message } = await a1.ok('sendMessage', { conversationId, text: 'extra', unknownField: { deep: true }, seq: 99, messageId: 'mine' });
    expect(message).toMatchObject({ conversationId, senderId: alice, text: 'extra', seq: 1 });
    expect(message.messageId).not.toBe('mine');
  });

  it('handles an event emitted without an ack callback and keeps serving the socket', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    raw(a1).emit('sendMessage', { conversationId, text: 'no ack' });
    raw(a1).emit('sendMessage', 'malformed and no ack');
    raw(a1).emit('getMessageHistory', { conversationId });
    raw(a1).emit('markAsRead', { conversationId, lastReadMessageId: randomUUID() });
    const [delivered] = await b1.waitFor('newMessage');
    expect(delivered).toMatchObject({ text: 'no ack', seq: 1 });
    await settle();
    expect(a1.received).toEqual([]);
    expect(a1.socket.connected).toBe(true);
    expect((await a1.ok('sendMessage', { conversationId, text: messageText() })).message.seq).toBe(2);
  });

  it('closes only the socket that sends a frame over 64 KiB', async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const a2 = await ctx.connect(alice);
    const b1 = await ctx.connect(bob);

    // Just under the frame limit: an ordinary INVALID_ARGUMENT (too long a text), the socket stays.
    expect(await a1.emit('sendMessage', { conversationId, text: 'x'.repeat(60 * 1024) })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT' },
    });
    expect(a1.socket.connected).toBe(true);

    const closed = a1.disconnected();
    raw(a1).emit('sendMessage', { conversationId, text: 'x'.repeat(70 * 1024) });
    // The server drops the transport (WebSocket close 1009), not a Socket.IO-level disconnect.
    expect(await closed).toBe('transport close');
    expect(a1.socket.connected).toBe(false);

    const { message } = await a2.ok('sendMessage', { conversationId, text: messageText() });
    expect(message.seq).toBe(1);
    expect(await b1.waitFor('newMessage')).toEqual([message]);
    expect(b1.socket.connected).toBe(true);
    // The server takes new sockets too.
    const again = await ctx.connect(alice);
    expect((await history(again, conversationId)).messages).toEqual([message]);
  });
});

describe('sendMessage with MESSAGE_MAX_LENGTH=20', () => {
  const ctx = useApp({ MESSAGE_MAX_LENGTH: '20' });

  it('accepts exactly the maximum and refuses one more, counting code points', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const accepted = ['x'.repeat(20), '😀'.repeat(20), `${'é'.repeat(10)}${'𝄞'.repeat(10)}`, ` ${'y'.repeat(18)} `];
    const refused = ['x'.repeat(21), '😀'.repeat(21), `${'x'.repeat(20)}😀`, ' '.repeat(10) + 'z'.repeat(11)];
    for (const text of refused) {
      expect(await a1.emit('sendMessage', { conversationId, text }), text).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    const stored: Message[] = [];
    for (const text of accepted) stored.push((await a1.ok('sendMessage', { conversationId, text })).message);
    expect(stored.map((message) => message.text)).toEqual(accepted);
    expect(seqs(stored)).toEqual([1, 2, 3, 4]);
    expect(await b1.waitFor('newMessage', undefined, { count: 4 })).toEqual(stored);
    expect(await allMessages(a1, conversationId)).toEqual(stored);
  });
});

describe('sendMessage when the connection is removed (no Connections cache)', () => {
  const ctx = useApp({ CONNECTIONS_CACHE_TTL_SECONDS: '0', CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: '0' });

  it('refuses with PERMISSION_DENIED once the participants are no longer connected, and resumes gap-free when they are again', async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const first = (await a1.ok('sendMessage', { conversationId, text: messageText() })).message;
    await b1.waitFor('newMessage');

    ctx.app.graph.disconnect(alice, bob);
    expect(outcome(await a1.emit('sendMessage', { conversationId, text: messageText() }))).toBe('PERMISSION_DENIED');
    expect(outcome(await b1.emit('sendMessage', { conversationId, text: messageText() }))).toBe('PERMISSION_DENIED');
    // Reading the history is still a participant's right.
    expect(await allMessages(b1, conversationId)).toEqual([first]);
    await ctx.drained();
    expect(b1.events('newMessage')).toEqual([first]);
    expect(a1.events('newMessage')).toEqual([]);

    ctx.app.graph.connect(alice, bob);
    const second = (await a1.ok('sendMessage', { conversationId, text: messageText() })).message;
    expect(second.seq).toBe(2);
  });
});

describe('sendMessage rate limit (RATE_LIMIT_MESSAGES_PER_SECOND=2, burst 4)', () => {
  const ctx = useApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '2' });

  it('refuses sends over the limit with RESOURCE_EXHAUSTED and stores exactly the acknowledged ones', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const results = await Promise.all(range(1, 10).map((index) => a1.emit('sendMessage', { conversationId, text: `burst ${index}` })));

    const accepted = results.flatMap((result) => (result.ok ? [result.data.message] : []));
    const refused = results.filter((result) => !result.ok);
    expect(accepted.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThan(0);
    for (const result of refused) expect(outcome(result)).toBe('RESOURCE_EXHAUSTED');

    accepted.sort((x, y) => x.seq - y.seq);
    expect(seqs(accepted)).toEqual(range(1, accepted.length));
    expect(await allMessages(a1, conversationId)).toEqual(accepted);
    await b1.waitFor('newMessage', undefined, { count: accepted.length });
    await ctx.drained();
    expect(b1.events('newMessage')).toEqual(accepted);

    // The limit is per user: the other participant still has a full bucket.
    expect(outcome(await b1.emit('sendMessage', { conversationId, text: messageText() }))).toBe('ok');
  });

  it('lets the user send again once tokens refill', async () => {
    const { a1, conversationId } = await ctx.pair();
    const first = await Promise.all(range(1, 8).map(() => a1.emit('sendMessage', { conversationId, text: messageText() })));
    expect(first.some((result) => outcome(result) === 'RESOURCE_EXHAUSTED')).toBe(true);
    await settle(700);
    expect(outcome(await a1.emit('sendMessage', { conversationId, text: messageText() }))).toBe('ok');
  });
});

describe('delivery and read receipts', () => {
  const ctx = useApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000' });

  /** bob sends `count` messages to alice; alice has sockets a1 (acting) and a2, bob has b1 and b2, carol watches. */
  async function conversationWithMessages(count: number) {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const a2 = await ctx.connect(alice);
    const [b1, b2] = [await ctx.connect(bob), await ctx.connect(bob)];
    const carol = userId('carol');
    ctx.app.graph.connect(carol, alice);
    const c1 = await ctx.connect(carol);
    const sent: Message[] = [];
    for (let index = 0; index < count; index++) sent.push((await b1.ok('sendMessage', { conversationId, text: messageText('from bob') })).message);
    await a1.waitFor('newMessage', undefined, { count });
    await a2.waitFor('newMessage', undefined, { count });
    await b2.waitFor('newMessage', undefined, { count });
    for (const client of [a1, a2, b1, b2]) client.received.length = 0;
    return { alice, bob, conversationId, a1, a2, b1, b2, c1, sent };
  }

  it("markAsDelivered tells every socket of the sender, with the newest newly marked message, and nobody else", async () => {
    const { conversationId, a1, a2, b1, b2, c1, sent } = await conversationWithMessages(3);
    expect(await a1.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[1]!.messageId })).toEqual({ ok: true, data: {} });

    for (const client of [b1, b2]) {
      const [event] = await client.waitFor('messageDelivered');
      expect(event).toEqual({ conversationId, messageId: sent[1]!.messageId, deliveredAt: expect.any(String) });
      expect(isIso(event?.deliveredAt)).toBe(true);
    }
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.received).toHaveLength(1);
    for (const client of [a1, a2, c1]) expect(client.received).toEqual([]);

    // Messages 1 and 2 are delivered (2 at the receipt's time), 3 is not; none is read.
    const stored = (await history(b1, conversationId)).messages.reverse();
    const deliveredAt = b1.events('messageDelivered')[0]!.deliveredAt;
    expect(stored[1]?.deliveredAt).toBe(deliveredAt);
    expect(isIso(stored[0]?.deliveredAt)).toBe(true);
    expect(Date.parse(stored[0]!.deliveredAt!)).toBeLessThanOrEqual(Date.parse(deliveredAt));
    expect(stored[2]?.deliveredAt).toBeUndefined();
    expect(stored.every((message) => message.readAt === undefined)).toBe(true);
  });

  it('markAsRead tells the sender and the reader\'s other sockets, not the reading socket, and implies delivered', async () => {
    const { alice, conversationId, a1, a2, b1, b2, c1, sent } = await conversationWithMessages(3);
    expect(await a1.emit('markAsRead', { conversationId, lastReadMessageId: sent[1]!.messageId })).toEqual({ ok: true, data: {} });

    const expected = { conversationId, messageId: sent[1]!.messageId, readAt: expect.any(String), readerId: alice };
    for (const client of [b1, b2, a2]) expect(await client.waitFor('messageRead')).toEqual([expected]);
    await ctx.drained();
    for (const client of [b1, b2, a2]) expect(client.events('messageRead')).toHaveLength(1);
    expect(a1.received).toEqual([]);
    expect(c1.received).toEqual([]);
    const readAt = b1.events('messageRead')[0]?.readAt;
    expect(isIso(readAt)).toBe(true);

    const stored = (await history(a1, conversationId)).messages.reverse();
    expect(stored[1]?.readAt).toBe(readAt);
    expect(isIso(stored[0]?.readAt)).toBe(true);
    expect(Date.parse(stored[0]!.readAt!)).toBeLessThanOrEqual(Date.parse(readAt!));
    expect(stored[2]?.readAt).toBeUndefined();
    for (const message of stored.slice(0, 2)) {
      expect(isIso(message.deliveredAt)).toBe(true);
      expect(Date.parse(message.deliveredAt!)).toBeLessThanOrEqual(Date.parse(message.readAt!));
    }
    expect(stored[2]?.deliveredAt).toBeUndefined();

    // Read implied delivered: delivering the read ones marks nothing new and tells nobody.
    for (const client of [a1, a2, b1, b2]) client.received.length = 0;
    await a1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[1]!.messageId });
    await ctx.drained();
    for (const client of [a1, a2, b1, b2]) expect(client.received).toEqual([]);
  });

  it('keeps marks as high-water marks: an older mark after a newer one changes nothing and emits nothing', async () => {
    const { conversationId, a1, a2, b1, b2, sent } = await conversationWithMessages(3);
    await a1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[2]!.messageId });
    await a1.ok('markAsRead', { conversationId, lastReadMessageId: sent[2]!.messageId });
    const [read] = await b1.waitFor('messageRead');
    expect(read?.messageId).toBe(sent[2]!.messageId);
    await b1.waitFor('messageDelivered');
    await ctx.drained();
    const before = (await history(a1, conversationId)).messages;
    for (const client of [a1, a2, b1, b2]) client.received.length = 0;

    for (const older of [sent[0]!, sent[1]!, sent[2]!]) {
      expect(outcome(await a1.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: older.messageId }))).toBe('ok');
      expect(outcome(await a1.emit('markAsRead', { conversationId, lastReadMessageId: older.messageId }))).toBe('ok');
    }
    await ctx.drained();
    for (const client of [a1, a2, b1, b2]) expect(client.received).toEqual([]);
    expect((await history(a1, conversationId)).messages).toEqual(before);
  });

  it('moves the marks forward step by step, each receipt naming the newest newly marked message', async () => {
    const { conversationId, a1, b1, sent } = await conversationWithMessages(4);
    await a1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[0]!.messageId });
    await a1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[2]!.messageId });
    await a1.ok('markAsRead', { conversationId, lastReadMessageId: sent[1]!.messageId });
    await a1.ok('markAsRead', { conversationId, lastReadMessageId: sent[3]!.messageId });
    const delivered = await b1.waitFor('messageDelivered', undefined, { count: 2 });
    const read = await b1.waitFor('messageRead', undefined, { count: 2 });
    expect(delivered.map((event) => event.messageId)).toEqual([sent[0]!.messageId, sent[2]!.messageId]);
    expect(read.map((event) => event.messageId)).toEqual([sent[1]!.messageId, sent[3]!.messageId]);

    const stored = (await history(a1, conversationId)).messages.reverse();
    expect(stored.every((message) => isIso(message.deliveredAt) && isIso(message.readAt))).toBe(true);
  });

  it("marks only the other participant's messages; a mark on one's own message covers theirs before it", async () => {
    const { alice, bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    const fromBob = (await b1.ok('sendMessage', { conversationId, text: messageText() })).message;
    const fromAlice = (await a1.ok('sendMessage', { conversationId, text: messageText() })).message;
    const laterFromBob = (await b1.ok('sendMessage', { conversationId, text: messageText() })).message;
    await a1.waitFor('newMessage', undefined, { count: 2 });
    await b1.waitFor('newMessage');
    b1.received.length = 0;

    // Alice marks up to her own message: bob's earlier message is read, his later one is not, hers is untouched.
    expect(await a1.emit('markAsRead', { conversationId, lastReadMessageId: fromAlice.messageId })).toEqual({ ok: true, data: {} });
    expect(await b1.waitFor('messageRead')).toEqual([{ conversationId, messageId: fromBob.messageId, readAt: expect.any(String), readerId: alice }]);
    const stored = (await history(a1, conversationId)).messages.reverse();
    expect(stored.map((message) => message.messageId)).toEqual([fromBob.messageId, fromAlice.messageId, laterFromBob.messageId]);
    expect(stored.map((message) => message.readAt !== undefined)).toEqual([true, false, false]);

    // Bob marking alice's message reads it, and alice hears about it.
    await b1.ok('markAsRead', { conversationId, lastReadMessageId: fromAlice.messageId });
    expect(await a1.waitFor('messageRead')).toEqual([{ conversationId, messageId: fromAlice.messageId, readAt: expect.any(String), readerId: bob }]);
  });

  it('answers NOT_FOUND for a message that is not in the conversation, and PERMISSION_DENIED for a non-participant', async () => {
    const { conversationId, a1, b1, b2, c1, sent } = await conversationWithMessages(1);
    const other = await ctx.pair();
    const elsewhere = (await other.a1.ok('sendMessage', { conversationId: other.conversationId, text: messageText() })).message;

    for (const messageId of [randomUUID(), elsewhere.messageId]) {
      expect(outcome(await a1.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: messageId }))).toBe('NOT_FOUND');
      expect(outcome(await a1.emit('markAsRead', { conversationId, lastReadMessageId: messageId }))).toBe('NOT_FOUND');
    }
    const target = sent[0]!.messageId;
    expect(outcome(await c1.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: target }))).toBe('PERMISSION_DENIED');
    expect(outcome(await c1.emit('markAsRead', { conversationId, lastReadMessageId: target }))).toBe('PERMISSION_DENIED');
    expect(outcome(await a1.emit('markAsRead', { conversationId: randomUUID(), lastReadMessageId: target }))).toBe('PERMISSION_DENIED');
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.received).toEqual([]);
    const [stored] = (await history(a1, conversationId)).messages;
    expect(stored?.deliveredAt).toBeUndefined();
    expect(stored?.readAt).toBeUndefined();
    const [storedElsewhere] = (await history(other.a1, other.conversationId)).messages;
    expect(storedElsewhere).toEqual(elsewhere);
  });
});

describe('getMessageHistory over Socket.IO', () => {
  const ctx = useApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000' });
  let shared: Awaited<ReturnType<typeof ctx.pair>> & { sent: Message[] };

  beforeAll(async () => {
    const pair = await ctx.pair();
    const sent: Message[] = [];
    for (let index = 1; index <= 120; index++) sent.push((await pair.a1.ok('sendMessage', { conversationId: pair.conversationId, text: `m${index}` })).message);
    shared = { ...pair, sent };
  });

  it('returns the newest first, 50 by default, with a cursor', async () => {
    const { a1, conversationId, sent } = shared;
    const page = await history(a1, conversationId);
    expect(page.messages).toEqual(sent.slice(70).reverse());
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it('caps the page at 100', async () => {
    const { a1, conversationId, sent } = shared;
    for (const pageSize of [100, 500]) {
      const page = await history(a1, conversationId, { pageSize });
      expect(page.messages).toEqual(sent.slice(20).reverse());
      expect(page.nextCursor).toEqual(expect.any(String));
    }
  });

  it('visits every message exactly once by following the cursor, even while new messages arrive', async () => {
    const { a1, conversationId } = await ctx.pair();
    const sent: Message[] = [];
    for (let index = 1; index <= 23; index++) sent.push((await a1.ok('sendMessage', { conversationId, text: `w${index}` })).message);

    const seen: Message[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await history(a1, conversationId, { pageSize: 5, ...(cursor ? { paginationCursor: cursor } : {}) });
      expect(page.messages.length).toBeLessThanOrEqual(5);
      seen.push(...page.messages);
      cursor = page.nextCursor;
      if (++pages === 1) {
        // New messages land on top and do not shift the pages behind the cursor.
        await a1.ok('sendMessage', { conversationId, text: messageText() });
        await a1.ok('sendMessage', { conversationId, text: messageText() });
      }
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen).toEqual(sent.slice().reverse());
  });

  it('ends without a cursor when the last page is exactly full, and answers an empty conversation with no messages', async () => {
    const { a1, conversationId } = await ctx.pair();
    expect(await history(a1, conversationId)).toEqual({ messages: [] });
    for (let index = 0; index < 4; index++) await a1.ok('sendMessage', { conversationId, text: messageText() });
    const page = await history(a1, conversationId, { pageSize: 4 });
    expect(page.messages).toHaveLength(4);
    expect(page.nextCursor).toBeUndefined();
    const first = await history(a1, conversationId, { pageSize: 2 });
    const second = await history(a1, conversationId, { pageSize: 2, paginationCursor: first.nextCursor });
    expect(seqs(second.messages)).toEqual([2, 1]);
    expect(second.nextCursor).toBeUndefined();
  });

  it('shows the same history to both participants', async () => {
    const { a1, bob, conversationId } = shared;
    const b1 = await ctx.connect(bob);
    expect(await history(b1, conversationId, { pageSize: 100 })).toEqual(await history(a1, conversationId, { pageSize: 100 }));
  });

  it('rejects a bad cursor or page size with INVALID_ARGUMENT', async () => {
    const { a1, conversationId } = shared;
    const listCursor = Buffer.from(JSON.stringify(['c1', new Date().toISOString(), randomUUID()])).toString('base64url');
    const cursors: unknown[] = [
      'garbage',
      '',
      'x'.repeat(600),
      42,
      listCursor,
      Buffer.from(JSON.stringify(['h1', -1])).toString('base64url'),
      Buffer.from(JSON.stringify(['h1', 'ten'])).toString('base64url'),
      Buffer.from(JSON.stringify(['h1', 1.5])).toString('base64url'),
      Buffer.from('not json').toString('base64url'),
    ];
    for (const paginationCursor of cursors) {
      expect(await a1.emit('getMessageHistory', { conversationId, paginationCursor }), String(paginationCursor)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT' },
      });
    }
    for (const pageSize of [0, -1, 1.5, '10', true, [10]]) {
      expect(await a1.emit('getMessageHistory', { conversationId, pageSize }), String(pageSize)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT' },
      });
    }
    expect(a1.socket.connected).toBe(true);
  });

  it('refuses non-participants and unknown conversations with PERMISSION_DENIED', async () => {
    const { alice, conversationId } = shared;
    const mallory = userId('mallory');
    ctx.app.graph.connect(mallory, alice);
    const m1 = await ctx.connect(mallory);
    expect(outcome(await m1.emit('getMessageHistory', { conversationId }))).toBe('PERMISSION_DENIED');
    expect(outcome(await m1.emit('getMessageHistory', { conversationId: randomUUID() }))).toBe('PERMISSION_DENIED');
  });
});

describe('catch-up on connect', () => {
  const ctx = useApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000' });

  it('emits what was sent while the recipient was offline, oldest first, until it is marked delivered', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const carol = userId('carol');
    ctx.app.graph.connect(carol, bob);
    const c1 = await ctx.connect(carol);
    const withCarol = (await c1.ok('startConversation', { participantId: bob })).conversation.conversationId;

    // A few milliseconds apart, so that "oldest first" is one order across the two conversations.
    const missed: Message[] = [];
    for (const [client, id] of [[a1, conversationId], [c1, withCarol], [a1, conversationId], [a1, conversationId]] as const) {
      missed.push((await client.ok('sendMessage', { conversationId: id, text: messageText() })).message);
      await settle(5);
    }
    expect(new Set(missed.map((message) => message.timestamp)).size).toBe(4);

    const b1 = await ctx.connect(bob);
    expect(await b1.waitFor('newMessage', undefined, { count: 4 })).toEqual(missed);
    await settle();
    expect(b1.received).toHaveLength(4);

    // A second socket gets the same catch-up, the first one nothing more.
    const b2 = await ctx.connect(bob);
    expect(await b2.waitFor('newMessage', undefined, { count: 4 })).toEqual(missed);
    await settle();
    expect(b1.received).toHaveLength(4);
    // The senders get nothing back from a catch-up.
    expect(a1.received).toEqual([]);

    // Delivered up to the second message of alice's conversation: only the last one is still owed.
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: missed[2]!.messageId });
    const b3 = await ctx.connect(bob);
    expect(await b3.waitFor('newMessage', undefined, { count: 2 })).toEqual([missed[1], missed[3]]);

    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: missed[3]!.messageId });
    await b1.ok('markAsRead', { conversationId: withCarol, lastReadMessageId: missed[1]!.messageId });
    const b4 = await ctx.connect(bob);
    await settle();
    expect(b4.received).toEqual([]);
  });

  it('does not replay messages to the socket that is already connected when they are marked delivered', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob);
    // b1's own catch-up (nothing to deliver yet) runs after its handshake: let it finish, or a message
    // sent meanwhile reaches b1 twice, live and by catch-up, which CONTRACT §3.3 allows but this test is not about.
    await settle();
    const { message } = await a1.ok('sendMessage', { conversationId, text: messageText() });
    expect(await b1.waitFor('newMessage')).toEqual([message]);
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: message.messageId });
    b1.close();
    const again = await ctx.connect(bob);
    await settle();
    expect(again.received).toEqual([]);
  });
});
