import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from './contract/models.js';
import { dataParts } from '../test/parts.js';

const CONVERSATION = '0193a000-0000-7000-8000-000000000001';
const at = (seq: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
const fromBob = (seq: number, extra: Partial<Message> = {}): Message => ({
  messageId: `in-${seq}`,
  conversationId: CONVERSATION,
  senderId: 'bob',
  text: `from bob ${seq}`,
  seq,
  timestamp: at(seq),
  ...extra,
});

describe('the client parts below the facade', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  describe('Outbox', () => {
    it('fails what retrying cannot fix at once, retries it on demand, and discards only failed messages', async () => {
      const parts = dataParts();
      await parts.connection.open();
      let refuse = true;
      parts.socket().handlers.sendMessage = (payload) =>
        refuse
          ? { ok: false, error: { code: 'PERMISSION_DENIED', message: 'not connected to bob' } }
          : { ok: true, data: { message: { ...fromBob(1), senderId: 'alice', text: String(payload.text), clientMessageId: String(payload.clientMessageId), messageId: 'own-1' } } };
      const failed = await parts.outbox.send(CONVERSATION, 'hi');
      expect(failed).toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED' } });
      expect(parts.socket().sent('sendMessage')).toHaveLength(1);
      await expect(parts.outbox.retry(CONVERSATION, 'no-such-key')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      refuse = false;
      const sent = await parts.outbox.retry(CONVERSATION, failed.key);
      expect(sent).toMatchObject({ status: 'sent', key: failed.key, messageId: 'own-1' });
      const attempts = parts.socket().sent('sendMessage');
      expect(attempts.map((payload) => payload.clientMessageId)).toEqual([failed.key, failed.key]);
      expect(parts.outbox.discard(CONVERSATION, failed.key)).toBe(false);
    });
  });

  describe('Sync', () => {
    it('drops live duplicates, announces new incoming messages once, and fills a seq gap from history', async () => {
      const parts = dataParts({ gapGraceMs: 200 });
      await parts.connection.open();
      parts.socket().handlers.getMessageHistory = () => ({ ok: true, data: { messages: [fromBob(3), fromBob(2), fromBob(1)] } });
      parts.sync.onNewMessage(fromBob(1));
      parts.sync.onNewMessage(fromBob(1));
      parts.sync.onNewMessage(fromBob(3));
      expect(parts.incoming).toEqual(['in-1', 'in-3']);
      await vi.advanceTimersByTimeAsync(199);
      expect(parts.socket().sent('getMessageHistory')).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(parts.stores.for(CONVERSATION).messages().map((message) => message.seq)).toEqual([1, 2, 3]);
      expect(parts.list.get(CONVERSATION)).toMatchObject({ lastMessage: { seq: 3 }, unreadCount: 2 });
    });

    it('reloads the list and the loaded conversations after a reconnection, and reports what fails', async () => {
      const parts = dataParts();
      await parts.connection.open();
      parts.socket().handlers.listConversations = () => ({ ok: true, data: { conversations: [] } });
      parts.socket().handlers.getMessageHistory = () => ({ ok: true, data: { messages: [fromBob(1)] } });
      await parts.sync.loadConversations();
      await parts.sync.loadLatest(CONVERSATION);
      parts.socket().handlers.getMessageHistory = () => ({ ok: false, error: { code: 'INVALID_ARGUMENT', message: 'no' } });
      await parts.sync.resync();
      expect(parts.socket().sent('listConversations')).toHaveLength(2);
      expect(parts.socket().sent('getMessageHistory')).toHaveLength(2);
      expect(parts.reports).toEqual(['resync after reconnection: INVALID_ARGUMENT']);
    });
  });

  describe('Receipts', () => {
    it('marks delivered while hidden and read while visible, once per burst, and applies read receipts to own messages', async () => {
      const parts = dataParts();
      await parts.connection.open();
      for (const seq of [1, 2, 3]) parts.sync.onNewMessage(fromBob(seq));
      await vi.advanceTimersByTimeAsync(0);
      expect(parts.socket().sent('markAsDelivered')).toEqual([{ conversationId: CONVERSATION, lastDeliveredMessageId: 'in-3' }]);
      expect(parts.socket().sent('markAsRead')).toEqual([]);
      expect(parts.list.get(CONVERSATION)?.unreadCount).toBe(3);

      parts.receipts.setVisible(CONVERSATION, true);
      await vi.advanceTimersByTimeAsync(0);
      expect(parts.socket().sent('markAsRead')).toEqual([{ conversationId: CONVERSATION, lastReadMessageId: 'in-3' }]);
      expect(parts.list.get(CONVERSATION)?.unreadCount).toBe(0);
      expect(parts.receipts.readSeq(CONVERSATION)).toBe(3);

      parts.sync.onOwnStored({ ...fromBob(4), senderId: 'alice', messageId: 'own-4' });
      parts.receipts.onRead({ conversationId: CONVERSATION, messageId: 'own-4', readAt: at(9), readerId: 'bob' });
      expect(parts.stores.for(CONVERSATION).messages().at(-1)).toMatchObject({ own: true, status: 'read' });
    });

    it('does not mark while disconnected: the marks are redone after the reconnection', async () => {
      const parts = dataParts();
      await parts.connection.open();
      parts.socket().serverDisconnect();
      parts.sync.onNewMessage(fromBob(1));
      await vi.advanceTimersByTimeAsync(0);
      expect(parts.socket().sent('markAsDelivered')).toEqual([]);
      await vi.advanceTimersByTimeAsync(500);
      expect(parts.connection.state).toBe('connected');
      parts.receipts.remarkVisible();
      parts.receipts.schedule(CONVERSATION);
      await vi.advanceTimersByTimeAsync(0);
      expect(parts.socket().sent('markAsDelivered')).toHaveLength(1);
    });
  });
});
