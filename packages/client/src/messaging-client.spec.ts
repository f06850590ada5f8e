import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from './contract/models.js';
import type { MessageStatus } from './conversation-store.js';
import { FakeSocket, token } from '../test/fake-socket.js';
import { MessagingClient, type MessagingClientOptions } from './messaging-client.js';

const CONVERSATION = '0193a000-0000-7000-8000-000000000001';

let seq = 0;
function stored(payload: Record<string, unknown>, senderId = 'alice'): Message {
  seq++;
  return {
    messageId: `m-${seq}`,
    conversationId: String(payload.conversationId),
    senderId,
    text: String(payload.text),
    seq,
    timestamp: new Date().toISOString(),
    ...(payload.clientMessageId ? { clientMessageId: String(payload.clientMessageId) } : {}),
  };
}

function incoming(messageSeq: number, extra: Partial<Message> = {}): Message {
  return { messageId: `in-${messageSeq}`, conversationId: CONVERSATION, senderId: 'bob', text: `from bob ${messageSeq}`, seq: messageSeq, timestamp: new Date().toISOString(), ...extra };
}

async function connectedClient(options: Partial<MessagingClientOptions> = {}) {
  let socket: FakeSocket | undefined;
  const client = new MessagingClient({
    token: token('alice'),
    ackTimeoutMs: 1000,
    random: () => 0,
    socketFactory: (_url, socketOptions) => (socket = new FakeSocket(socketOptions)),
    ...options,
  });
  const statuses: MessageStatus[] = [];
  client.on('messages', (_id, messages) => {
    const status = messages.at(-1)?.status;
    if (status && statuses.at(-1) !== status) statuses.push(status);
  });
  await client.connect();
  return { client, socket: socket!, statuses };
}

/** Lets timers and the promise chains behind them run. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

describe('MessagingClient (against a scripted socket)', () => {
  beforeEach(() => {
    seq = 0;
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('reads the user id from the token', async () => {
    const { client } = await connectedClient();
    expect(client.userId).toBe('alice');
    expect(client.state).toBe('connected');
  });

  it('shows a message as sending, then sent, delivered and read', async () => {
    const { client, socket, statuses } = await connectedClient();
    socket.handlers.sendMessage = (payload) => ({ ok: true, data: { message: stored(payload) } });
    const sending = client.send(CONVERSATION, 'hello');
    expect(client.messages(CONVERSATION)).toEqual([expect.objectContaining({ status: 'sending', text: 'hello', own: true })]);
    const sent = await sending;
    expect(sent).toMatchObject({ status: 'sent', messageId: 'm-1', seq: 1 });
    expect(socket.sent('sendMessage')[0]?.clientMessageId).toBe(sent.clientMessageId);
    expect(sent.key).toBe(sent.clientMessageId);

    socket.fire('messageDelivered', { conversationId: CONVERSATION, messageId: 'm-1', deliveredAt: new Date().toISOString() });
    await advance(0);
    expect(client.messages(CONVERSATION)[0]?.status).toBe('delivered');
    socket.fire('messageRead', { conversationId: CONVERSATION, messageId: 'm-1', readAt: new Date().toISOString(), readerId: 'bob' });
    // A late delivered event does not take it back.
    socket.fire('messageDelivered', { conversationId: CONVERSATION, messageId: 'm-1', deliveredAt: new Date().toISOString() });
    await advance(0);
    expect(client.messages(CONVERSATION)[0]?.status).toBe('read');
    expect(statuses).toEqual(['sending', 'sent', 'delivered', 'read']);
  });

  it('retries a timed-out send with backoff under the same clientMessageId', async () => {
    const { client, socket } = await connectedClient({ sendRetry: { initialDelayMs: 100, multiplier: 2, jitter: 0 } });
    let calls = 0;
    socket.handlers.sendMessage = (payload) => (++calls < 3 ? 'no-answer' : { ok: true, data: { message: stored(payload) } });
    const result = client.send(CONVERSATION, 'are you there?');
    await advance(1000); // first attempt times out
    expect(socket.sent('sendMessage')).toHaveLength(1);
    expect(client.messages(CONVERSATION)[0]).toMatchObject({ status: 'sending', error: { code: 'TIMEOUT' } });
    await advance(99);
    expect(socket.sent('sendMessage')).toHaveLength(1);
    await advance(1); // 100 ms backoff
    expect(socket.sent('sendMessage')).toHaveLength(2);
    await advance(1000 + 200); // second timeout, then 200 ms backoff
    expect(socket.sent('sendMessage')).toHaveLength(3);
    await expect(result).resolves.toMatchObject({ status: 'sent' });
    const ids = new Set(socket.sent('sendMessage').map((payload) => payload.clientMessageId));
    expect(ids.size).toBe(1);
    expect(client.messages(CONVERSATION)).toHaveLength(1);
  });

  it('retries UNAVAILABLE, fails after the last attempt, and sends again on retry()', async () => {
    const { client, socket } = await connectedClient({ sendRetry: { maxAttempts: 3, initialDelayMs: 50, jitter: 0 } });
    socket.handlers.sendMessage = () => ({ ok: false, error: { code: 'UNAVAILABLE', message: 'database down' } });
    const result = client.send(CONVERSATION, 'hello');
    await advance(50 + 100);
    const failed = await result;
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'UNAVAILABLE', message: 'database down' } });
    expect(socket.sent('sendMessage')).toHaveLength(3);

    socket.handlers.sendMessage = (payload) => ({ ok: true, data: { message: stored(payload) } });
    const retried = await client.retry(CONVERSATION, failed.key);
    expect(retried).toMatchObject({ status: 'sent', key: failed.key, clientMessageId: failed.clientMessageId });
    expect(socket.sent('sendMessage').at(-1)?.clientMessageId).toBe(failed.clientMessageId);
  });

  it('does not retry what retrying cannot fix', async () => {
    const { client, socket } = await connectedClient();
    socket.handlers.sendMessage = () => ({ ok: false, error: { code: 'PERMISSION_DENIED', message: 'not connected to this user' } });
    await expect(client.send(CONVERSATION, 'hi')).resolves.toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED' } });
    expect(socket.sent('sendMessage')).toHaveLength(1);
  });

  it('takes a late acknowledgement and stops retrying', async () => {
    const { client, socket } = await connectedClient({ sendRetry: { initialDelayMs: 500, jitter: 0 } });
    let late: (() => void) | undefined;
    socket.handlers.sendMessage = (payload) =>
      new Promise((resolve) => {
        late = () => resolve({ ok: true, data: { message: stored(payload) } });
      });
    const result = client.send(CONVERSATION, 'slow');
    await advance(1000); // timed out; waiting 500 ms before the retry
    late?.();
    await advance(500);
    await expect(result).resolves.toMatchObject({ status: 'sent', messageId: 'm-1' });
    expect(socket.sent('sendMessage')).toHaveLength(1);
  });

  it('waits for the connection to come back, and fails as not connected if it does not', async () => {
    const { client, socket } = await connectedClient({ sendRetry: { maxAttempts: 2, initialDelayMs: 100, jitter: 0 } });
    socket.handlers.sendMessage = (payload) => ({ ok: true, data: { message: stored(payload) } });
    socket.connected = false;
    socket.fire('disconnect', 'transport close');
    expect(client.state).toBe('reconnecting');
    const result = client.send(CONVERSATION, 'offline');
    await advance(1000 + 100 + 1000);
    await expect(result).resolves.toMatchObject({ status: 'failed', error: { code: 'NOT_CONNECTED' } });
    expect(socket.sent('sendMessage')).toHaveLength(0);

    const again = client.retry(CONVERSATION, client.messages(CONVERSATION)[0]!.key);
    await advance(200);
    socket.connect();
    await expect(again).resolves.toMatchObject({ status: 'sent' });
  });

  it('sends the messages of a conversation in the order they were written', async () => {
    const { client, socket } = await connectedClient();
    socket.handlers.sendMessage = (payload) => new Promise((resolve) => setTimeout(() => resolve({ ok: true, data: { message: stored(payload) } }), payload.text === 'first' ? 50 : 1));
    const first = client.send(CONVERSATION, 'first');
    const second = client.send(CONVERSATION, 'second');
    await advance(100);
    expect((await first).seq).toBe(1);
    expect((await second).seq).toBe(2);
  });

  it('drops duplicate messages by messageId', async () => {
    const { client, socket } = await connectedClient();
    const seen: string[] = [];
    client.on('message', (message) => seen.push(message.messageId!));
    socket.fire('newMessage', incoming(1));
    socket.fire('newMessage', incoming(1));
    await advance(10);
    socket.fire('newMessage', incoming(1));
    await advance(10);
    expect(client.messages(CONVERSATION)).toHaveLength(1);
    expect(seen).toEqual(['in-1']);
    expect(socket.sent('markAsDelivered')).toEqual([{ conversationId: CONVERSATION, lastDeliveredMessageId: 'in-1' }]);
  });

  it('marks received messages delivered with one call per burst, and read while the conversation is visible', async () => {
    const { client, socket } = await connectedClient();
    for (const messageSeq of [1, 2, 3]) socket.fire('newMessage', incoming(messageSeq));
    await advance(10);
    expect(socket.sent('markAsDelivered')).toEqual([{ conversationId: CONVERSATION, lastDeliveredMessageId: 'in-3' }]);
    expect(client.conversation(CONVERSATION)).toMatchObject({ unreadCount: 3, participantIds: ['alice', 'bob'] });
    expect(socket.sent('markAsRead')).toEqual([]);

    client.setConversationVisible(CONVERSATION, true);
    await advance(10);
    expect(socket.sent('markAsRead')).toEqual([{ conversationId: CONVERSATION, lastReadMessageId: 'in-3' }]);
    expect(client.conversation(CONVERSATION)?.unreadCount).toBe(0);

    socket.fire('newMessage', incoming(4));
    await advance(10);
    expect(socket.sent('markAsRead').at(-1)).toEqual({ conversationId: CONVERSATION, lastReadMessageId: 'in-4' });
    expect(socket.sent('markAsDelivered')).toHaveLength(1);

    client.setConversationVisible(CONVERSATION, false);
    socket.fire('newMessage', incoming(5));
    await advance(10);
    expect(socket.sent('markAsRead')).toHaveLength(2);
    expect(socket.sent('markAsDelivered').at(-1)).toEqual({ conversationId: CONVERSATION, lastDeliveredMessageId: 'in-5' });
  });

  it('fetches the messages a jump in seq says were missed', async () => {
    const { client, socket } = await connectedClient({ gapGraceMs: 100 });
    socket.handlers.getMessageHistory = () => ({ ok: true, data: { messages: [incoming(4), incoming(3), incoming(2), incoming(1)] } });
    socket.fire('newMessage', incoming(1));
    socket.fire('newMessage', incoming(2));
    socket.fire('newMessage', incoming(4));
    await advance(50);
    expect(socket.sent('getMessageHistory')).toHaveLength(0);
    await advance(60);
    expect(socket.sent('getMessageHistory')).toEqual([{ conversationId: CONVERSATION, pageSize: 50 }]);
    expect(client.messages(CONVERSATION).map((message) => message.seq)).toEqual([1, 2, 3, 4]);
  });

  it('does not fetch when the missing message arrives within the grace period', async () => {
    const { client, socket } = await connectedClient({ gapGraceMs: 100 });
    socket.fire('newMessage', incoming(1));
    socket.fire('newMessage', incoming(3));
    socket.fire('newMessage', incoming(2));
    await advance(200);
    expect(socket.sent('getMessageHistory')).toHaveLength(0);
    expect(client.messages(CONVERSATION).map((message) => message.seq)).toEqual([1, 2, 3]);
  });

  it('pages back through history with the cursor the server gave', async () => {
    const { client, socket } = await connectedClient({ historyPageSize: 2 });
    socket.handlers.getMessageHistory = (payload) => {
      const below = payload.paginationCursor ? Number(payload.paginationCursor) : 6;
      const messages = [below - 1, below - 2].filter((n) => n >= 1).map((n) => incoming(n));
      return { ok: true, data: { messages, ...(below - 2 > 1 ? { nextCursor: String(below - 2) } : {}) } };
    };
    await client.loadLatest(CONVERSATION);
    expect(client.messages(CONVERSATION).map((m) => m.seq)).toEqual([4, 5]);
    expect(client.hasOlder(CONVERSATION)).toBe(true);
    await expect(client.loadOlder(CONVERSATION)).resolves.toEqual({ added: 2, hasOlder: true });
    await expect(client.loadOlder(CONVERSATION)).resolves.toEqual({ added: 1, hasOlder: false });
    await expect(client.loadOlder(CONVERSATION)).resolves.toEqual({ added: 0, hasOlder: false });
    expect(client.messages(CONVERSATION).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(socket.sent('getMessageHistory').map((p) => p.paginationCursor)).toEqual([undefined, '4', '2']);
  });

  it('throttles startTyping and shows the other side typing until stopped or timed out', async () => {
    const { client, socket } = await connectedClient({ remoteTypingTimeoutMs: 5000 });
    for (let elapsed = 0; elapsed < 4500; elapsed += 150) {
      client.notifyTyping(CONVERSATION);
      await advance(150);
    }
    expect(socket.sent('startTyping')).toHaveLength(3);
    await advance(3000);
    expect(socket.sent('stopTyping')).toHaveLength(1);

    const seen: Array<readonly string[]> = [];
    client.on('typing', (_id, users) => seen.push(users));
    socket.fire('typing', { conversationId: CONVERSATION, userId: 'bob' });
    expect(client.typingUsers(CONVERSATION)).toEqual(['bob']);
    socket.fire('typingStopped', { conversationId: CONVERSATION, userId: 'bob' });
    socket.fire('typing', { conversationId: CONVERSATION, userId: 'bob' });
    await advance(5000); // the typingStopped was lost: cleared locally
    expect(client.typingUsers(CONVERSATION)).toEqual([]);
    expect(seen).toEqual([['bob'], [], ['bob'], []]);
    // A message from the typist also takes the indicator down.
    socket.fire('typing', { conversationId: CONVERSATION, userId: 'bob' });
    socket.fire('newMessage', incoming(1));
    expect(client.typingUsers(CONVERSATION)).toEqual([]);
  });

  it('reconnects with a fresh token from the callback after the server closes the socket', async () => {
    let version = 0;
    const { client, socket } = await connectedClient({ token: () => token('alice', ++version), reconnect: { initialDelayMs: 100, jitter: 0 } });
    expect(socket.lastAuth?.token).toBe(token('alice', 2)); // connect() read one to learn the user id
    socket.serverDisconnect();
    expect(client.state).toBe('reconnecting');
    await advance(100);
    expect(client.state).toBe('connected');
    expect(socket.lastAuth?.token).toBe(token('alice', 3));
  });

  it('gives up on a refused token it cannot renew, and tells why', async () => {
    let socket: FakeSocket | undefined;
    const client = new MessagingClient({
      token: token('alice'),
      socketFactory: (_url, options) => {
        socket = new FakeSocket(options);
        socket.refuseNext = 'UNAUTHENTICATED';
        return socket;
      },
    });
    await expect(client.connect()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(client.state).toBe('unauthenticated');
    await expect(client.send(CONVERSATION, 'x')).resolves.toMatchObject({ status: 'failed', error: { code: 'UNAUTHENTICATED' } });
  });

  it('retries a refused handshake when the server is busy', async () => {
    let socket: FakeSocket | undefined;
    const client = new MessagingClient({
      token: token('alice'),
      reconnect: { initialDelayMs: 100, jitter: 0 },
      socketFactory: (_url, options) => {
        socket = new FakeSocket(options);
        socket.refuseNext = 'RESOURCE_EXHAUSTED';
        return socket;
      },
    });
    const connecting = client.connect();
    await advance(0);
    expect(client.connectionError?.code).toBe('RESOURCE_EXHAUSTED');
    await advance(100);
    await expect(connecting).resolves.toBeUndefined();
    expect(client.state).toBe('connected');
  });

  it('resyncs loaded conversations after a reconnection', async () => {
    const { client, socket } = await connectedClient();
    socket.handlers.getMessageHistory = () => ({ ok: true, data: { messages: [incoming(1)] } });
    await client.loadLatest(CONVERSATION);
    socket.handlers.getMessageHistory = () => ({ ok: true, data: { messages: [incoming(2), incoming(1, { readAt: new Date().toISOString() })] } });
    socket.connected = false;
    socket.fire('disconnect', 'transport close');
    socket.connect();
    await advance(10);
    expect(client.messages(CONVERSATION).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('fails pending sends at once on close()', async () => {
    const { client, socket } = await connectedClient();
    socket.handlers.sendMessage = () => 'no-answer';
    const result = client.send(CONVERSATION, 'bye');
    await advance(0);
    client.close();
    await advance(1000);
    await expect(result).resolves.toMatchObject({ status: 'failed', error: { code: 'NOT_CONNECTED' } });
    expect(client.state).toBe('closed');
  });
});
