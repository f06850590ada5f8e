import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SendPipeline, type InsertOutcome, type NewMessage } from '../../src/messages/send-pipeline.js';
import { clientMessageId, messageText } from '../support/factories.js';
import { createConversation, openDatabase, type TestConversation, type TestDatabase } from '../support/database.js';

function newMessage(conversation: TestConversation, senderId = conversation.userA, cmid?: string): NewMessage {
  const recipientId = conversation.other(senderId);
  return { id: uuidv7(), conversationId: conversation.conversationId, senderId, recipientId, recipientIsUserA: recipientId === conversation.userA, text: messageText(), clientMessageId: cmid };
}

async function seqsOf(db: TestDatabase, conversationId: string): Promise<number[]> {
  const result = await db.sql.query<{ seq: number }>('SELECT seq FROM message WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
  return result.rows.map((row) => row.seq);
}

const range = (n: number) => Array.from({ length: n }, (_, index) => index + 1);
const failOnBroadcastError = (error: unknown) => {
  throw error;
};

describe('batched inserts and the send pipeline', () => {
  let db: TestDatabase;
  let second: TestDatabase;
  beforeAll(() => {
    db = openDatabase(inject('databaseUrl'));
    // A second pool on the same database: another instance's pipeline.
    second = openDatabase(inject('databaseUrl'));
  });
  afterAll(async () => {
    await db?.close();
    await second?.close();
  });

  it('numbers a multi-conversation batch gap-free, in input order, per conversation', async () => {
    const [first, other] = [await createConversation(db), await createConversation(db)];
    const messages = [newMessage(first), newMessage(other), newMessage(first), newMessage(first, first.userB), newMessage(other)];
    const outcomes = await db.messages.insertBatch(messages);
    expect(outcomes.map(({ created, message }) => [created, message.messageId, message.seq])).toEqual([
      [true, messages[0]!.id, 1],
      [true, messages[1]!.id, 1],
      [true, messages[2]!.id, 2],
      [true, messages[3]!.id, 3],
      [true, messages[4]!.id, 2],
    ]);
    const stored = await db.sql.query<{ last_seq: number; updated_at: Date; a_unread: number; b_unread: number }>(
      'SELECT last_seq, updated_at, a_unread, b_unread FROM conversation WHERE id = $1',
      [first.conversationId],
    );
    expect(stored.rows[0]).toMatchObject({ last_seq: 3, a_unread: 1, b_unread: 2 });
    expect(stored.rows[0]?.updated_at.toISOString()).toBe(outcomes[0]!.message.timestamp);
  });

  it('numbers a one-conversation batch gap-free, in input order, moving the same counters', async () => {
    const conversation = await createConversation(db);
    await db.messages.insertBatch([newMessage(conversation)]);
    const messages = [newMessage(conversation), newMessage(conversation, conversation.userB), newMessage(conversation, conversation.userA, clientMessageId())];
    const outcomes = await db.messages.insertBatch(messages);
    expect(outcomes.map(({ created, message }) => [created, message.messageId, message.seq, message.clientMessageId])).toEqual([
      [true, messages[0]!.id, 2, undefined],
      [true, messages[1]!.id, 3, undefined],
      [true, messages[2]!.id, 4, messages[2]!.clientMessageId],
    ]);
    const stored = await db.sql.query<{ last_seq: number; updated_at: Date; a_unread: number; b_unread: number }>(
      'SELECT last_seq, updated_at, a_unread, b_unread FROM conversation WHERE id = $1',
      [conversation.conversationId],
    );
    expect(stored.rows[0]).toMatchObject({ last_seq: 4, a_unread: 1, b_unread: 3 });
    expect(stored.rows[0]?.updated_at.toISOString()).toBe(outcomes[0]!.message.timestamp);
  });

  it('keeps seq gap-free when many batches over the same conversations run at once', async () => {
    const conversations = await Promise.all([1, 2, 3, 4].map(() => createConversation(db)));
    // Batches touch the conversations in different orders: the id-ordered locks keep them from
    // deadlocking. Every third batch is of one conversation only, the statement of that shape.
    const batches = range(12).map((index) =>
      range(8).map((offset) => newMessage(conversations[(index % 3 === 0 ? index : index + offset) % conversations.length]!)),
    );
    await Promise.all(batches.map((batch, index) => (index % 2 ? second : db).messages.insertBatch(batch)));
    for (const conversation of conversations) {
      const sent = batches.flat().filter((message) => message.conversationId === conversation.conversationId).length;
      expect(await seqsOf(db, conversation.conversationId)).toEqual(range(sent));
    }
  });

  it('fails a batch that repeats a stored clientMessageId as a whole, moving no counter; the pipeline then answers it with the original', async () => {
    const conversation = await createConversation(db);
    const key = clientMessageId();
    const original = await db.messages.insertOne(newMessage(conversation, conversation.userA, key));
    await expect(db.messages.insertBatch([newMessage(conversation), newMessage(conversation, conversation.userA, key)])).rejects.toThrow();
    expect(await seqsOf(db, conversation.conversationId)).toEqual([1]);
    const pipeline = new SendPipeline(db.messages, { concurrency: 2 }, failOnBroadcastError);
    const outcomes = await Promise.all([newMessage(conversation), newMessage(conversation, conversation.userA, key), newMessage(conversation)].map((message) => pipeline.submit(message, () => undefined)));
    expect(outcomes.map((outcome) => outcome.created)).toEqual([true, false, true]);
    expect(outcomes[1]!.message).toEqual(original.message);
    expect(await seqsOf(db, conversation.conversationId)).toEqual([1, 2, 3]);
  });

  it('stores retries sent in the same tick once, gap-free', async () => {
    const conversation = await createConversation(db);
    const pipeline = new SendPipeline(db.messages, { concurrency: 2 }, failOnBroadcastError);
    const keys = range(40).map(() => clientMessageId());
    // Every message is sent twice in the same tick, as a client retrying a lost ack would.
    const sends = keys.flatMap((key) => [newMessage(conversation, conversation.userA, key), newMessage(conversation, conversation.userA, key)]);
    const broadcast: number[] = [];
    const outcomes = await Promise.all(sends.map((message) => pipeline.submit(message, ({ message: stored }) => broadcast.push(stored.seq))));
    expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(40);
    const byKey = new Map<string, Set<string>>();
    for (const { message } of outcomes) byKey.set(message.clientMessageId!, (byKey.get(message.clientMessageId!) ?? new Set()).add(message.messageId));
    expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(broadcast).toEqual(range(40));
    expect(await seqsOf(db, conversation.conversationId)).toEqual(range(40));
  });

  it('pipelines many sends per conversation on two instances: each broadcasts in seq order, seq stays gap-free', async () => {
    const conversations = await Promise.all(range(6).map(() => createConversation(db)));
    const instances = [new SendPipeline(db.messages, { concurrency: 4, overlapAfterMs: 0 }, failOnBroadcastError), new SendPipeline(second.messages, { concurrency: 4, overlapAfterMs: 0 }, failOnBroadcastError)];
    const broadcasts = instances.map(() => new Map<string, number[]>());
    const perConversation = 120;
    const sends: Promise<InsertOutcome>[] = [];
    // Waves of sends, many in flight per conversation on both instances at once.
    for (let wave = 0; wave < perConversation / 10; wave++) {
      for (const conversation of conversations) {
        for (let i = 0; i < 10; i++) {
          const instance = (wave + i) % 2;
          const sender = i % 3 ? conversation.userA : conversation.userB;
          sends.push(
            instances[instance]!.submit(newMessage(conversation, sender), ({ message }) => {
              const seen = broadcasts[instance]!.get(message.conversationId) ?? [];
              seen.push(message.seq);
              broadcasts[instance]!.set(message.conversationId, seen);
            }),
          );
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outcomes = await Promise.all(sends);
    expect(outcomes.every((outcome) => outcome.created)).toBe(true);
    for (const conversation of conversations) {
      expect(await seqsOf(db, conversation.conversationId)).toEqual(range(perConversation));
      const both = broadcasts.flatMap((seen) => seen.get(conversation.conversationId) ?? []);
      expect(both.sort((x, y) => x - y)).toEqual(range(perConversation));
      for (const seen of broadcasts) {
        const own = seen.get(conversation.conversationId) ?? [];
        expect(own).toEqual([...own].sort((x, y) => x - y));
      }
    }
  });

  it('sorts out one clientMessageId sent to two instances at once: one stored, both answered with it', async () => {
    const conversation = await createConversation(db);
    const pipelines = [new SendPipeline(db.messages, { concurrency: 1 }, failOnBroadcastError), new SendPipeline(second.messages, { concurrency: 1 }, failOnBroadcastError)];
    for (let round = 0; round < 20; round++) {
      const key = clientMessageId();
      const outcomes = await Promise.all(pipelines.map((pipeline) => pipeline.submit(newMessage(conversation, conversation.userA, key), () => undefined)));
      expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(1);
      expect(outcomes[0]!.message).toEqual(outcomes[1]!.message);
    }
    expect(await seqsOf(db, conversation.conversationId)).toEqual(range(20));
  });
});
