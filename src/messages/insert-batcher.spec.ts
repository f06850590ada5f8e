import { describe, expect, it } from 'vitest';
import type { MessageRow } from '../common/message-row.js';
import { InsertBatcher, type MessageStore } from './insert-batcher.js';
import type { InsertOutcome, NewMessage } from './messages.repository.js';

function message(id: string, clientMessageId?: string): NewMessage {
  return { id, conversationId: 'c', senderId: 's', recipientId: 'r', text: id, clientMessageId };
}

function row(m: NewMessage, seq: number): MessageRow {
  return { id: m.id, conversation_id: m.conversationId, seq, sender_id: m.senderId, text: m.text, client_message_id: m.clientMessageId ?? null, created_at: new Date(0), delivered_at: null, read_at: null };
}

/** Records calls; fails a batch that repeats a clientMessageId, as the unique index would. */
class RecordingStore implements MessageStore {
  batches: string[][] = [];
  singles: string[] = [];
  private seq = 0;
  private readonly seen = new Map<string, MessageRow>();

  async insert(m: NewMessage): Promise<InsertOutcome> {
    this.singles.push(m.id);
    const original = m.clientMessageId ? this.seen.get(m.clientMessageId) : undefined;
    if (original) return { created: false, row: original };
    const stored = row(m, ++this.seq);
    if (m.clientMessageId) this.seen.set(m.clientMessageId, stored);
    return { created: true, row: stored };
  }

  async insertMany(messages: NewMessage[]): Promise<MessageRow[]> {
    this.batches.push(messages.map((m) => m.id));
    const keys = messages.map((m) => m.clientMessageId).filter(Boolean);
    if (new Set(keys).size !== keys.length || keys.some((key) => this.seen.has(key!))) throw new Error('23505');
    return messages.map((m) => row(m, ++this.seq));
  }
}

describe('InsertBatcher', () => {
  it('writes the sends of one tick as one batch, in order, and answers each with its own row', async () => {
    const store = new RecordingStore();
    const batcher = new InsertBatcher(store);
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => batcher.insert(message(id))));
    expect(store.batches).toEqual([['a', 'b', 'c']]);
    expect(outcomes.map((outcome) => [outcome.row.id, outcome.row.seq])).toEqual([['a', 1], ['b', 2], ['c', 3]]);
  });

  it('writes a lone send on its own', async () => {
    const store = new RecordingStore();
    await new InsertBatcher(store).insert(message('a'));
    expect(store.batches).toEqual([]);
    expect(store.singles).toEqual(['a']);
  });

  it('splits large ticks into batches of at most maxBatch', async () => {
    const store = new RecordingStore();
    const batcher = new InsertBatcher(store, 2);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => batcher.insert(message(id))));
    expect(store.batches).toEqual([['a', 'b'], ['c', 'd']]);
    expect(store.singles).toEqual(['e']);
  });

  it('falls back to one by one when a batch repeats a clientMessageId, so the repeat gets the original', async () => {
    const store = new RecordingStore();
    const batcher = new InsertBatcher(store);
    const [first, repeat, other] = await Promise.all([batcher.insert(message('a', 'k')), batcher.insert(message('b', 'k')), batcher.insert(message('c'))]);
    expect(first).toMatchObject({ created: true, row: { id: 'a' } });
    expect(repeat).toMatchObject({ created: false, row: { id: 'a' } });
    expect(other).toMatchObject({ created: true, row: { id: 'c' } });
  });

  it('rejects only the messages whose own insert fails', async () => {
    const store = new RecordingStore();
    store.insertMany = async () => {
      throw new Error('batch failed');
    };
    const original = store.insert.bind(store);
    store.insert = async (m) => (m.id === 'bad' ? Promise.reject(new Error('bad message')) : original(m));
    const batcher = new InsertBatcher(store);
    const results = await Promise.allSettled([batcher.insert(message('good')), batcher.insert(message('bad'))]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected']);
  });
});
