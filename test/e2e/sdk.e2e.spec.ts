import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageStatus } from '@platform/messaging-client';
import { MessagingClient, type MessagingClientOptions, type SocketFactory, type SocketLike } from '@platform/messaging-client';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** What a lossy network did to one client's traffic, and the switch to make it lossy. */
interface Network {
  emitted: Array<{ event: string; payload: Record<string, unknown> }>;
  /** Drop this server event before the client sees it. */
  dropEvent?: (event: string, payload: Record<string, unknown>) => boolean;
  /** Do not send this client event at all. */
  dropEmit?: (event: string, payload: Record<string, unknown>) => boolean;
  /** Send this client event, but lose its acknowledgement. */
  dropAck?: (event: string, payload: Record<string, unknown>) => boolean;
  raw?: Socket;
}

/** The real socket.io-client, with a switchable lossy layer between it and the SDK. */
function lossy(network: Network): SocketFactory {
  return (url, options) => {
    const socket = io(url!, options);
    network.raw = socket;
    const wrapped: SocketLike = {
      get connected() {
        return socket.connected;
      },
      get active() {
        return socket.active;
      },
      connect: () => socket.connect(),
      disconnect: () => socket.disconnect(),
      emit: (event, ...args) => {
        const [payload, ack] = args as [Record<string, unknown>, (...values: unknown[]) => void];
        network.emitted.push({ event, payload });
        if (network.dropEmit?.(event, payload)) return;
        if (network.dropAck?.(event, payload)) return socket.emit(event, payload, () => undefined);
        return socket.emit(event, payload, ack);
      },
      on: (event, listener) =>
        socket.on(event, (...values: unknown[]) => {
          if (network.dropEvent?.(event, values[0] as Record<string, unknown>)) return;
          (listener as (...args: unknown[]) => void)(...values);
        }),
    };
    return wrapped;
  };
}

describe('the client SDK against the real service', () => {
  let app: TestApp;
  const clients: MessagingClient[] = [];
  const rawClients: TestClient[] = [];

  const client = async (user: string, options: Partial<MessagingClientOptions> = {}) => {
    const sdk = new MessagingClient({ url: app.server.httpUrl, token: () => app.token(user), transports: ['websocket'], ...options });
    clients.push(sdk);
    await sdk.connect();
    return sdk;
  };
  const raw = async (user: string) => {
    const testClient = await TestClient.connect(app.server.httpUrl, await app.token(user));
    rawClients.push(testClient);
    return testClient;
  };
  /** Two connected users with a conversation, started by the first. */
  const pair = async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    return { alice, bob };
  };

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '1000' });
  });
  afterAll(async () => {
    for (const sdk of clients) sdk.close();
    for (const testClient of rawClients) testClient.close();
    await app?.close();
  });

  it('delivers a message at once; the sender sees sending → sent → delivered → read', async () => {
    const { alice, bob } = await pair();
    const aliceClient = await client(alice);
    const bobClient = await client(bob);
    const { conversationId } = await aliceClient.startConversation(bob);
    const statuses: MessageStatus[] = [];
    aliceClient.on('messages', (id, messages) => {
      const status = id === conversationId ? messages.at(-1)?.status : undefined;
      if (status && statuses.at(-1) !== status) statuses.push(status);
    });
    const arrived: number[] = [];
    bobClient.on('message', () => arrived.push(Date.now()));

    const started = Date.now();
    const sent = await aliceClient.send(conversationId, 'Hi Bob');
    expect(sent).toMatchObject({ status: 'sent', seq: 1, text: 'Hi Bob' });
    await vi.waitFor(() => expect(bobClient.messages(conversationId)).toEqual([expect.objectContaining({ text: 'Hi Bob', own: false, messageId: sent.messageId })]));
    expect(arrived[0]! - started).toBeLessThan(500);
    await vi.waitFor(() => expect(aliceClient.messages(conversationId)[0]?.status).toBe('delivered'));
    expect(bobClient.conversation(conversationId)).toMatchObject({ unreadCount: 1, lastMessage: { text: 'Hi Bob' } });

    bobClient.setConversationVisible(conversationId, true);
    await vi.waitFor(() => expect(aliceClient.messages(conversationId)[0]?.status).toBe('read'));
    expect(bobClient.conversation(conversationId)?.unreadCount).toBe(0);
    expect(statuses).toEqual(['sending', 'sent', 'delivered', 'read']);

    // The server agrees.
    const [summary] = (await bobClient.request('listConversations', {})).conversations;
    expect(summary).toMatchObject({ conversationId, unreadCount: 0 });
  });

  it('retries a send whose acknowledgement was lost; the server stores and broadcasts it once', async () => {
    const { alice, bob } = await pair();
    const network: Network = { emitted: [] };
    const aliceClient = await client(alice, { socketFactory: lossy(network), ackTimeoutMs: 300 });
    const bobRaw = await raw(bob);
    const { conversationId } = await aliceClient.startConversation(bob);
    let lost = 0;
    network.dropAck = (event) => event === 'sendMessage' && lost++ === 0;

    const sent = await aliceClient.send(conversationId, 'only once');
    expect(sent).toMatchObject({ status: 'sent', seq: 1 });
    const attempts = network.emitted.filter((entry) => entry.event === 'sendMessage');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.payload.clientMessageId).toBe(attempts[1]!.payload.clientMessageId);

    await bobRaw.waitFor('newMessage');
    const history = await bobRaw.ok('getMessageHistory', { conversationId });
    expect(history.messages.map((message) => message.text)).toEqual(['only once']);
    expect(bobRaw.events('newMessage')).toHaveLength(1);
    expect(aliceClient.messages(conversationId)).toHaveLength(1);
  });

  it('retries UNAVAILABLE until the Connections service answers again', async () => {
    const uncached = await startTestApp({ CONNECTIONS_CACHE_TTL_SECONDS: '0', CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: '0' });
    try {
      const [alice, bob] = [userId('alice'), userId('bob')];
      uncached.graph.connect(alice, bob);
      const aliceClient = new MessagingClient({ url: uncached.server.httpUrl, token: () => uncached.token(alice), transports: ['websocket'], sendRetry: { initialDelayMs: 100, jitter: 0 } });
      clients.push(aliceClient);
      await aliceClient.connect();
      const { conversationId } = await aliceClient.startConversation(bob);
      uncached.connections.controls.failureRate = 1;
      const errors: string[] = [];
      aliceClient.on('messages', (_id, messages) => {
        const code = messages.at(-1)?.error?.code;
        if (code) errors.push(code);
        if (code === 'UNAVAILABLE') uncached.connections.controls.failureRate = 0;
      });
      const sent = await aliceClient.send(conversationId, 'eventually');
      expect(errors[0]).toBe('UNAVAILABLE');
      expect(sent).toMatchObject({ status: 'sent', seq: 1, error: undefined });
    } finally {
      await uncached.close();
    }
  });

  it('fetches a missed message from history when seq jumps, and marks both delivered', async () => {
    const { alice, bob } = await pair();
    const network: Network = { emitted: [] };
    const aliceClient = await client(alice);
    const bobClient = await client(bob, { socketFactory: lossy(network), gapGraceMs: 50 });
    const { conversationId } = await aliceClient.startConversation(bob);
    await aliceClient.send(conversationId, 'zero');
    await vi.waitFor(() => expect(bobClient.messages(conversationId)).toHaveLength(1));
    let dropped = 0;
    network.dropEvent = (event) => event === 'newMessage' && dropped++ === 0;

    await aliceClient.send(conversationId, 'one (lost on the way)');
    await aliceClient.send(conversationId, 'two');
    await vi.waitFor(() => expect(bobClient.messages(conversationId).map((message) => message.text)).toEqual(['zero', 'one (lost on the way)', 'two']));
    expect(dropped).toBe(2);
    expect(bobClient.messages(conversationId).map((message) => message.seq)).toEqual([1, 2, 3]);
    expect(network.emitted.filter((entry) => entry.event === 'getMessageHistory')).toHaveLength(1);
    await vi.waitFor(() => expect(aliceClient.messages(conversationId).map((message) => message.status)).toEqual(['delivered', 'delivered', 'delivered']));
  });

  it('drops the duplicates of a catch-up after a reconnection', async () => {
    const { alice, bob } = await pair();
    const network: Network = { emitted: [] };
    const aliceClient = await client(alice);
    const bobClient = await client(bob, { socketFactory: lossy(network), ackTimeoutMs: 300, requestRetry: { maxAttempts: 1 } });
    const { conversationId } = await aliceClient.startConversation(bob);
    const received: string[] = [];
    bobClient.on('message', (message) => received.push(message.text));
    // Bob's delivered mark is lost, so the server still counts the message undelivered.
    network.dropEmit = (event) => event === 'markAsDelivered';
    await aliceClient.send(conversationId, 'hello again');
    await vi.waitFor(() => expect(network.emitted.filter((entry) => entry.event === 'markAsDelivered')).toHaveLength(1));
    network.dropEmit = undefined;

    const reconnected = new Promise<void>((resolve) => bobClient.on('connection', (state) => state === 'connected' && resolve()));
    network.raw!.io.engine.close();
    await reconnected;
    // The catch-up re-sent it; the client kept one copy and marked it delivered this time.
    await vi.waitFor(() => expect(aliceClient.messages(conversationId)[0]?.status).toBe('delivered'));
    expect(bobClient.messages(conversationId)).toHaveLength(1);
    expect(received).toEqual(['hello again']);
  });

  it('reconnects with a fresh token from the callback when the server ends an expired session', async () => {
    const { alice, bob } = await pair();
    let tokens = 0;
    const aliceClient = new MessagingClient({
      url: app.server.httpUrl,
      transports: ['websocket'],
      reconnect: { initialDelayMs: 50, jitter: 0 },
      // The first tokens (read by connect() and the first handshake) expire in 2 s.
      token: () => app.token(alice, { ttlSeconds: ++tokens <= 2 ? 2 : 3600 }),
    });
    clients.push(aliceClient);
    const states: string[] = [];
    aliceClient.on('connection', (state) => states.push(state));
    await aliceClient.connect();
    const bobClient = await client(bob);
    const { conversationId } = await bobClient.startConversation(alice);

    await vi.waitFor(() => expect(states).toContain('reconnecting'), { timeout: 5000 });
    await vi.waitFor(() => expect(aliceClient.state).toBe('connected'));
    expect(tokens).toBe(3);
    await bobClient.send(conversationId, 'still there?');
    await vi.waitFor(() => expect(aliceClient.messages(conversationId).map((message) => message.text)).toEqual(['still there?']));
  });

  it('pages back through a long conversation, every message once and in order', async () => {
    const { alice, bob } = await pair();
    const bobRaw = await raw(bob);
    const { conversation } = await bobRaw.ok('startConversation', { participantId: alice });
    let last = '';
    for (let index = 1; index <= 130; index++) last = (await bobRaw.ok('sendMessage', { conversationId: conversation.conversationId, text: `message ${index}` })).message.messageId;
    const aliceClient = await client(alice);
    await aliceClient.loadConversations();
    expect(aliceClient.conversation(conversation.conversationId)).toMatchObject({ unreadCount: 130, lastMessage: { text: 'message 130' } });

    await aliceClient.loadLatest(conversation.conversationId);
    expect(aliceClient.messages(conversation.conversationId)).toHaveLength(130); // the catch-up brought them all
    // The first device's delivered receipt is stored: a second device has no catch-up, so it pages.
    await bobRaw.waitFor('messageDelivered', (event) => event.messageId === last);
    const fresh = await client(alice);
    await fresh.loadLatest(conversation.conversationId);
    expect(fresh.messages(conversation.conversationId)).toHaveLength(50);
    while (fresh.hasOlder(conversation.conversationId)) await fresh.loadOlder(conversation.conversationId);
    const messages = fresh.messages(conversation.conversationId);
    expect(messages.map((message) => message.seq)).toEqual(Array.from({ length: 130 }, (_, index) => index + 1));
    expect(messages.map((message) => message.text)).toEqual(Array.from({ length: 130 }, (_, index) => `message ${index + 1}`));
  });

  it('throttles startTyping to about one per 2 s and shows the indicator on the other side', async () => {
    const { alice, bob } = await pair();
    const network: Network = { emitted: [] };
    const aliceClient = await client(alice, { socketFactory: lossy(network) });
    const bobClient = await client(bob);
    const { conversationId } = await aliceClient.startConversation(bob);
    const seen: Array<readonly string[]> = [];
    bobClient.on('typing', (id, users) => id === conversationId && seen.push(users));

    // A keystroke every 100 ms for 2.5 s: startTyping at 0 and at 2 s.
    const started = Date.now();
    for (let keystroke = 0; keystroke < 25; keystroke++) {
      aliceClient.notifyTyping(conversationId);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const elapsed = Date.now() - started;
    expect(bobClient.typingUsers(conversationId)).toEqual([alice]);
    const starts = network.emitted.filter((entry) => entry.event === 'startTyping').length;
    expect(starts).toBeGreaterThanOrEqual(2);
    expect(starts).toBeLessThanOrEqual(Math.floor(elapsed / 2000) + 1);
    aliceClient.stopTyping(conversationId);
    await vi.waitFor(() => expect(bobClient.typingUsers(conversationId)).toEqual([]));
    expect(seen).toEqual([[alice], []]);

    // Sending clears it too (the server says so).
    aliceClient.notifyTyping(conversationId);
    await vi.waitFor(() => expect(bobClient.typingUsers(conversationId)).toEqual([alice]));
    await aliceClient.send(conversationId, 'done typing');
    await vi.waitFor(() => expect(bobClient.typingUsers(conversationId)).toEqual([]));
  });

  it('reports PERMISSION_DENIED for a user who is not a connection', async () => {
    const aliceClient = await client(userId('alice'));
    await expect(aliceClient.startConversation(userId('stranger'))).rejects.toMatchObject({ name: 'MessagingError', code: 'PERMISSION_DENIED' });
  });
});
