import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PUBLISHED_EVENTS, type PublishedSubject } from '../../src/contract/events.js';
import { RelaySession } from '../../src/events/relay-session.js';
import type { NewMessage } from '../../src/messages/send-pipeline.js';
import { clientMessageId, messageText, userId } from '../support/factories.js';
import { createConversation, openDatabase, sendMessage, type TestConversation, type TestDatabase } from '../support/database.js';
import { conversationOf } from '../support/nats.js';

/**
 * The outbox writes of the send, receipt and conversation statements (docs/events.md): in the same
 * statement as the change, in commit order per conversation, only with EVENT_BUS_URL set.
 */
interface OutboxPayload {
  eventId: string;
  conversation?: { conversationId: string };
  message?: { messageId: string; seq: number; senderId: string };
  recipientId?: string;
  [field: string]: unknown;
}

describe('outbox writes', () => {
  let withEvents: TestDatabase;
  let without: TestDatabase;
  beforeAll(() => {
    withEvents = openDatabase(inject('databaseUrl'), 20, { events: true });
    without = openDatabase(inject('databaseUrl'), 4);
  });
  afterAll(async () => {
    await withEvents?.close();
    await without?.close();
  });

  /** The conversations' events in the outbox, as the relay reads them (send batches' rows expanded), in publication order. */
  async function outbox(conversationIds: string[]) {
    const session = await RelaySession.open(inject('databaseUrl'));
    try {
      const events = (await session.oldest(1_000_000))
        .map((event) => ({ ...event, payload: JSON.parse(event.payload) as OutboxPayload }))
        .filter((event) => conversationIds.includes(conversationOf(event.payload) ?? ''));
      for (const event of events) {
        const parsed = PUBLISHED_EVENTS[event.subject as PublishedSubject].safeParse(event.payload);
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      }
      expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
      return events.map((event) => ({ ...event, conversationId: conversationOf(event.payload) }));
    } finally {
      await session.close();
    }
  }

  function newMessage(conversation: TestConversation, senderId: string, extra: Partial<NewMessage> = {}): NewMessage {
    const recipientId = conversation.other(senderId);
    return { id: uuidv7(), conversationId: conversation.conversationId, senderId, recipientId, recipientIsUserA: recipientId === conversation.userA, text: messageText(), ...extra };
  }

  it('writes one message.sent per message of a batch, in seq order within each conversation', async () => {
    const conversations = await Promise.all([1, 2, 3].map(() => createConversation(withEvents)));
    const batch = Array.from({ length: 90 }, (_, i) => {
      const conversation = conversations[i % 3]!;
      return newMessage(conversation, i % 2 === 0 ? conversation.userA : conversation.userB);
    });
    await withEvents.messages.insertBatch(batch);
    const rows = await outbox(conversations.map((conversation) => conversation.conversationId));
    // The batch's events are one outbox row.
    const batchRows = await withEvents.sql.query<{ events: number; payload: unknown }>('SELECT events, payload FROM outbox_event WHERE $1::uuid = ANY(message_ids)', [batch[0]!.id]);
    expect(batchRows.rows).toEqual([{ events: 90, payload: null }]);
    for (const conversation of conversations) {
      const own = rows.filter((row) => row.conversationId === conversation.conversationId);
      expect(own[0]!.subject).toBe('messaging.v1.conversation.started');
      expect(own[0]!.payload.conversation?.conversationId).toBe(conversation.conversationId);
      const seqs = own.slice(1).map((row) => row.payload.message?.seq);
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(own.slice(1).every((row) => row.payload.recipientId !== row.payload.message?.senderId)).toBe(true);
      // A message is sent once: its message.sent event's id is the message's.
      expect(own.slice(1).every((row) => row.id === row.payload.message?.messageId)).toBe(true);
    }
  });

  it('writes a one-conversation batch as one outbox row, in seq order', async () => {
    const conversation = await createConversation(withEvents);
    const batch = Array.from({ length: 5 }, (_, i) => newMessage(conversation, i % 2 ? conversation.userB : conversation.userA));
    const outcomes = await withEvents.messages.insertBatch(batch);
    const rows = await withEvents.sql.query<{ events: number; message_ids: string[] }>('SELECT events, message_ids FROM outbox_event WHERE $1::uuid = ANY(message_ids)', [batch[0]!.id]);
    expect(rows.rows).toEqual([{ events: 5, message_ids: outcomes.map(({ message }) => message.messageId) }]);
    expect(outcomes.map(({ message }) => message.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('writes nothing for a batch refused on a repeated clientMessageId, nor for the repeat', async () => {
    const conversation = await createConversation(withEvents);
    const id = clientMessageId();
    await sendMessage(withEvents, conversation, conversation.userA, { clientMessageId: id });
    await expect(withEvents.messages.insertBatch([newMessage(conversation, conversation.userA), newMessage(conversation, conversation.userA, { clientMessageId: id })])).rejects.toThrow();
    const repeat = await sendMessage(withEvents, conversation, conversation.userA, { clientMessageId: id });
    expect(repeat.created).toBe(false);
    expect((await outbox([conversation.conversationId])).map((row) => row.subject)).toEqual(['messaging.v1.conversation.started', 'messaging.v1.message.sent']);
  });

  it('writes conversation.started once per pair', async () => {
    const [a, b] = [userId('a'), userId('b')];
    const first = await createConversation(withEvents, a, b);
    const second = await createConversation(withEvents, b, a);
    expect(second.conversationId).toBe(first.conversationId);
    expect((await outbox([first.conversationId])).map((row) => row.subject)).toEqual(['messaging.v1.conversation.started']);
  });

  it('writes a receipt event only when something was marked, and a read that marks delivered as message.read only', async () => {
    const conversation = await createConversation(withEvents);
    const sender = conversation.userA;
    const reader = conversation.userB;
    const one = await sendMessage(withEvents, conversation, sender);
    const two = await sendMessage(withEvents, conversation, sender);
    await withEvents.messages.markDelivered(conversation.conversationId, reader, one.message.messageId);
    await withEvents.messages.markDelivered(conversation.conversationId, reader, one.message.messageId);
    await withEvents.messages.markRead(conversation.conversationId, reader, two.message.messageId);
    await withEvents.messages.markRead(conversation.conversationId, reader, one.message.messageId);
    const rows = await outbox([conversation.conversationId]);
    expect(rows.map((row) => row.subject)).toEqual([
      'messaging.v1.conversation.started',
      'messaging.v1.message.sent',
      'messaging.v1.message.sent',
      'messaging.v1.message.delivered',
      'messaging.v1.message.read',
    ]);
    expect(rows[3]!.payload).toMatchObject({ recipientId: reader, messageId: one.message.messageId, seq: 1 });
    expect(rows[4]!.payload).toMatchObject({ readerId: reader, messageId: two.message.messageId, seq: 2 });
  });

  it('writes nothing without EVENT_BUS_URL', async () => {
    const conversation = await createConversation(without);
    const sent = await sendMessage(without, conversation, conversation.userA);
    await without.messages.markRead(conversation.conversationId, conversation.userB, sent.message.messageId);
    expect(await outbox([conversation.conversationId])).toEqual([]);
  });
});
