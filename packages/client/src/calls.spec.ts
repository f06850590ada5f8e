import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectionParts } from '../test/parts.js';

const CONVERSATION = '0193a000-0000-7000-8000-000000000001';
const RETRY = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0 };

describe('Calls (acknowledgements, timeouts, retries)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('resolves with the acknowledged data, and rejects with the server code', async () => {
    const { connection, calls, socket } = connectionParts();
    await connection.open();
    socket().handlers.startConversation = () => ({ ok: true, data: { conversation: { conversationId: CONVERSATION, participantIds: ['alice', 'bob'], createdAt: 'now' } } });
    expect((await calls.call('startConversation', { participantId: 'bob' })).conversation.conversationId).toBe(CONVERSATION);
    socket().handlers.startConversation = () => ({ ok: false, error: { code: 'PERMISSION_DENIED', message: 'not a connection' } });
    await expect(calls.call('startConversation', { participantId: 'eve' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: 'not a connection' });
    socket().handlers.startConversation = () => 'nonsense' as never;
    await expect(calls.call('startConversation', { participantId: 'eve' })).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('times out without an acknowledgement, and still shows a late one to onAck', async () => {
    const { connection, calls, socket } = connectionParts({ ackTimeoutMs: 1000 });
    await connection.open();
    let answer: (() => void) | undefined;
    socket().handlers.markAsRead = () => new Promise((resolve) => (answer = () => resolve({ ok: true, data: {} })));
    const seen: boolean[] = [];
    const outcome = calls.call('markAsRead', { conversationId: CONVERSATION, lastReadMessageId: CONVERSATION }, (result) => seen.push(result.ok)).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    answer!();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([true]);
  });

  it('retries what retrying can fix, with backoff, and not what it cannot', async () => {
    const { connection, calls, socket } = connectionParts({ requestRetry: RETRY });
    await connection.open();
    const answers = ['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ok'];
    socket().handlers.listConversations = () => {
      const code = answers.shift();
      return code === 'ok' ? { ok: true, data: { conversations: [] } } : { ok: false, error: { code: code as 'UNAVAILABLE', message: code! } };
    };
    const listed = calls.request('listConversations', {});
    await vi.advanceTimersByTimeAsync(99);
    expect(socket().sent('listConversations')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1 + 200);
    expect(await listed).toEqual({ conversations: [] });
    expect(socket().sent('listConversations')).toHaveLength(3);

    socket().handlers.listConversations = () => ({ ok: false, error: { code: 'INVALID_ARGUMENT', message: 'bad cursor' } });
    await expect(calls.request('listConversations', { cursor: 'x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(socket().sent('listConversations')).toHaveLength(4);
  });

  it('fails the calls in flight at once when the socket drops', async () => {
    const { connection, calls, socket } = connectionParts();
    await connection.open();
    socket().handlers.getMessageHistory = () => 'no-answer';
    const pending = calls.call('getMessageHistory', { conversationId: CONVERSATION }).catch((error: unknown) => error);
    socket().serverDisconnect();
    expect(await pending).toMatchObject({ code: 'NOT_CONNECTED' });
    await expect(calls.call('getMessageHistory', { conversationId: CONVERSATION })).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });
});
