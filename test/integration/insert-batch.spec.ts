import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { InsertBatcher } from '../../src/messages/insert-batcher.js';
import type { NewMessage } from '../../src/messages/messages.repository.js';
import { clientMessageId, messageText } from '../support/factories.js';
import { createConversation, openDatabase, type TestConversation, type TestDatabase } from '../support/database.js';

function newMessage(conversation: TestConversation, senderId = conversation.user_a, cmid?: string): NewMessage {
  return {
    id: uuidv7(),
    conversationId: conversation.id,
    senderId,
    recipientId: conversation.other(senderId),
    text: messageText(),
    clientMessageId: cmid,
  };
}

async function seqsOf(db: TestDatabase, conversationId: string): Promise<number[]> {
  const result = await db.sql.query<{ seq: number }>('SELECT seq FROM message WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
  return result.rows.map((row) => row.seq);
}

const range = (n: number) => Array.from({ length: n }, (_, index) => index + 1);

describe('batched inserts', () => {
  let db: TestDatabase;
  beforeAll(() => {
    db = openDatabase(inject('databaseUrl'));
  });
  afterAll(async () => {
    await db?.close();
  });

  it('numbers a multi-conversation batch gap-free, in input order, per conversation', async () => {
    const [first, second] = [await createConversation(db), await createConversation(db)];
    const messages = [newMessage(first), newMessage(second), newMessage(first), newMessage(first, first.user_b), newMessage(second)];
    const rows = await db.messages.insertMany(messages);
    expect(rows.map((row) => [row.id, row.seq])).toEqual([
      [messages[0]!.id, 1],
      [messages[1]!.id, 1],
      [messages[2]!.id, 2],
      [messages[3]!.id, 3],
      [messages[4]!.id, 2],
    ]);
    const stored = await db.sql.query<{ last_seq: number; updated_at: Date }>('SELECT last_seq, updated_at FROM conversation WHERE id = $1', [first.id]);
    expect(stored.rows[0]?.last_seq).toBe(3);
    expect(stored.rows[0]?.updated_at.getTime()).toBe(rows[0]!.created_at.getTime());
  });

  it('keeps seq gap-free when many batches over the same conversations run at once', async () => {
    const conversations = await Promise.all([1, 2, 3, 4].map(() => createConversation(db)));
    // Batches touch the conversations in different orders: the id-ordered locks keep them from deadlocking.
    const batches = range(12).map((index) =>
      range(8).map((offset) => newMessage(conversations[(index + offset) % conversations.length]!)),
    );
    await Promise.all(batches.map((batch) => db.messages.insertMany(batch)));
    for (const conversation of conversations) expect(await seqsOf(db, conversation.id)).toEqual(range(24));
  });

  it('fails a batch that repeats a stored clientMessageId as a whole, moving no counter', async () => {
    const conversation = await createConversation(db);
    const key = clientMessageId();
    await db.messages.insert(newMessage(conversation, conversation.user_a, key));
    await expect(db.messages.insertMany([newMessage(conversation), newMessage(conversation, conversation.user_a, key)])).rejects.toThrow();
    expect(await seqsOf(db, conversation.id)).toEqual([1]);
  });

  it('through the batcher: concurrent sends with retries store each message once, gap-free', async () => {
    const conversation = await createConversation(db);
    const batcher = new InsertBatcher(db.messages);
    const keys = range(40).map(() => clientMessageId());
    // Every message is sent twice in the same tick, as a client retrying a lost ack would.
    const sends = keys.flatMap((key) => [newMessage(conversation, conversation.user_a, key), newMessage(conversation, conversation.user_a, key)]);
    const outcomes = await Promise.all(sends.map((message) => batcher.insert(message)));
    expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(40);
    const byKey = new Map<string, Set<string>>();
    for (const outcome of outcomes) {
      const ids = byKey.get(outcome.row.client_message_id!) ?? new Set<string>();
      ids.add(outcome.row.id);
      byKey.set(outcome.row.client_message_id!, ids);
    }
    expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(await seqsOf(db, conversation.id)).toEqual(range(40));
  });
});
