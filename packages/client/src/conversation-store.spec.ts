import { describe, expect, it } from 'vitest';
import type { Message } from './contract/models.js';
import { ConversationStore } from './conversation-store.js';

const CONVERSATION = '0193a000-0000-7000-8000-000000000001';
const ME = 'alice';
const THEM = 'bob';

function message(seq: number, senderId = THEM, extra: Partial<Message> = {}): Message {
  return {
    messageId: `m-${seq}`,
    conversationId: CONVERSATION,
    senderId,
    text: `text ${seq}`,
    seq,
    timestamp: new Date(Date.UTC(2026, 10, 24, 12, 0, seq)).toISOString(),
    ...extra,
  };
}

const seqs = (store: ConversationStore) => store.messages().map((m) => m.seq);

describe('ConversationStore', () => {
  it('orders by seq whatever the arrival order, with pending sends last', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.addPending('c-1', 'mine', new Date().toISOString());
    for (const seq of [3, 1, 2]) store.ingest(message(seq), 'history');
    expect(store.messages().map((m) => m.key)).toEqual(['m-1', 'm-2', 'm-3', 'c-1']);
  });

  it('drops duplicates by messageId and reports them as not added', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    expect(store.ingest(message(1), 'live')).toMatchObject({ added: true, changed: true });
    expect(store.ingest(message(1), 'live')).toEqual({ added: false, changed: false });
    expect(store.ingest(message(1), 'history')).toEqual({ added: false, changed: false });
    expect(store.messages()).toHaveLength(1);
  });

  it('detects a jump in seq on live messages, and lists every gap', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    expect(store.ingest(message(1), 'live').gap).toBeUndefined();
    expect(store.ingest(message(2), 'live').gap).toBeUndefined();
    expect(store.ingest(message(5), 'live').gap).toEqual({ fromSeq: 3, toSeq: 4 });
    expect(store.ingest(message(7), 'live').gap).toEqual({ fromSeq: 6, toSeq: 6 });
    expect(store.gaps()).toEqual([
      { fromSeq: 3, toSeq: 4 },
      { fromSeq: 6, toSeq: 6 },
    ]);
    store.ingestPage([message(6), message(4), message(3)], undefined);
    expect(store.gaps()).toEqual([]);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not call the first live message of an empty conversation a gap', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    expect(store.ingest(message(40), 'live').gap).toBeUndefined();
    expect(store.hasOlder).toBe(true);
  });

  it('moves our own message from sending to sent when the server stores it, under the same key', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    const pending = store.addPending('c-1', 'hi', new Date().toISOString());
    expect(pending).toMatchObject({ key: 'c-1', status: 'sending', own: true });
    const result = store.ingest(message(1, ME, { clientMessageId: 'c-1', text: 'hi' }), 'live');
    expect(result).toMatchObject({ added: true, confirmed: 'c-1' });
    expect(store.isPending('c-1')).toBe(false);
    expect(store.messages()).toEqual([expect.objectContaining({ key: 'c-1', status: 'sent', messageId: 'm-1', seq: 1 })]);
  });

  it('confirms a pending send found in history (its acknowledgement was lost)', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.addPending('c-1', 'hi', new Date().toISOString());
    store.setPendingState('c-1', 'failed', { code: 'TIMEOUT', message: 'no answer' });
    store.ingestPage([message(1, ME, { clientMessageId: 'c-1', deliveredAt: '2026-11-24T12:00:05.000Z' })], undefined);
    expect(store.messages()).toEqual([expect.objectContaining({ key: 'c-1', status: 'delivered', error: undefined })]);
  });

  it('applies delivered and read receipts as high-water marks, and never moves a status back', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    for (const seq of [1, 2, 3]) store.ingest(message(seq, ME), 'live');
    store.ingest(message(4), 'live');
    store.ingest(message(5, ME), 'live');
    expect(store.applyReceipt('delivered', 'm-3', '2026-11-24T12:01:00.000Z')).toBe(true);
    expect(store.messages().map((m) => m.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered', 'sent']);
    expect(store.applyReceipt('read', 'm-2', '2026-11-24T12:02:00.000Z')).toBe(true);
    expect(store.messages().filter((m) => m.own).map((m) => m.status)).toEqual(['read', 'read', 'delivered', 'sent']);
    // A late delivered receipt for an already read message changes nothing.
    expect(store.applyReceipt('delivered', 'm-1', '2026-11-24T12:03:00.000Z')).toBe(false);
    expect(store.byMessageId('m-1')?.status).toBe('read');
    // A history page without the receipts does not take them back either.
    store.ingestPage([message(1, ME)], undefined);
    expect(store.byMessageId('m-1')?.status).toBe('read');
  });

  it('keeps a receipt for a message not here yet and applies it when the message arrives', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.addPending('c-9', 'quick', new Date().toISOString());
    expect(store.applyReceipt('delivered', 'm-9', '2026-11-24T12:00:10.000Z')).toBe(false);
    store.ingest(message(9, ME, { clientMessageId: 'c-9' }), 'live');
    expect(store.get('c-9')?.status).toBe('delivered');
    expect(store.get('c-9')?.deliveredAt).toBe('2026-11-24T12:00:10.000Z');
  });

  it('applies our own read marks to incoming messages and counts what is unread', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    for (const seq of [1, 2, 3, 4]) store.ingest(message(seq), 'live');
    expect(store.unreadAfter(0)).toBe(4);
    store.applyIncomingRead('m-2', '2026-11-24T12:05:00.000Z');
    expect(store.incomingReadSeq).toBe(2);
    expect(store.messages().map((m) => m.status)).toEqual(['read', 'read', 'delivered', 'delivered']);
    expect(store.unreadAfter(2)).toBe(2);
    expect(store.newestIncoming()?.messageId).toBe('m-4');
  });

  it('keeps the cursor that continues below the oldest message, and knows when the start is reached', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    expect(store.hasOlder).toBeUndefined();
    store.ingestPage([message(100), message(99), message(98)], 'cursor-below-98');
    store.historyLoaded = true;
    expect(store.cursorForOlder).toBe('cursor-below-98');
    expect(store.hasOlder).toBe(true);
    // A page that does not reach below the oldest one here leaves the cursor alone.
    store.ingestPage([message(101), message(100)], 'cursor-below-100');
    expect(store.cursorForOlder).toBe('cursor-below-98');
    store.ingestPage([message(97), message(96)], 'cursor-below-96');
    expect(store.cursorForOlder).toBe('cursor-below-96');
    store.ingestPage([message(2), message(1)], undefined);
    expect(store.hasOlder).toBe(false);
    expect(store.cursorForOlder).toBeUndefined();
  });

  it('knows an empty conversation has nothing older once history was loaded', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.ingestPage([], undefined);
    store.historyLoaded = true;
    expect(store.hasOlder).toBe(false);
  });

  it('discards only pending messages', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.addPending('c-1', 'x', new Date().toISOString());
    store.ingest(message(1), 'live');
    expect(store.discardPending('m-1')).toBe(false);
    expect(store.discardPending('c-1')).toBe(true);
    expect(store.messages().map((m) => m.key)).toEqual(['m-1']);
  });

  it('keeps the snapshot, and every unchanged message in it, identical until something changes', () => {
    const store = new ConversationStore(CONVERSATION, ME);
    store.ingest(message(1), 'history');
    store.ingest(message(2, ME, { clientMessageId: 'c-2' }), 'history');
    const first = store.messages();
    expect(store.messages()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // A duplicate that adds nothing changes nothing.
    store.ingest(message(1), 'live');
    expect(store.messages()).toBe(first);

    store.applyReceipt('delivered', 'm-2', '2026-01-01T00:00:09.000Z');
    const second = store.messages();
    expect(second).not.toBe(first);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
    expect(second[1]).toMatchObject({ status: 'delivered' });

    store.addPending('c-3', 'three', '2026-01-01T00:00:10.000Z');
    const third = store.messages();
    expect(third.slice(0, 2)).toEqual([second[0], second[1]]);
    expect(third[0]).toBe(second[0]);
    expect(third[1]).toBe(second[1]);
  });
});
