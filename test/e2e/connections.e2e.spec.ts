import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation__Output } from '../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { startConnectionsServer, type RunningConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { userId } from '../support/factories.js';
import { sleep } from '../support/figures.js';
import { sample } from '../support/prometheus.js';
import { bearer, call, messagingClient, statusOf } from '../support/grpc-client.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The Connections client (CONTRACT §5): answers cached per unordered pair for the configured TTLs,
 * a deadline per call, a circuit breaker, fail closed with UNAVAILABLE within 2 s, and recovery
 * within 15 s of the service answering again. The Connections server is a real gRPC server the test
 * controls; `connections.calls` counts the IsConnected calls it received.
 */

async function metrics(app: TestApp): Promise<string> {
  const response = await fetch(`${app.server.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

async function waitUntilReady(app: TestApp): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await fetch(`${app.server.httpUrl}/health/ready`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('the app did not become ready within 5 s');
    await sleep(25);
  }
}

/** Per-test bookkeeping: sockets and gRPC clients opened against an app, closed with it. */
function harness(env: Record<string, string> = {}, options: { redis?: boolean } = {}) {
  const state = {
    app: undefined as unknown as TestApp,
    sockets: [] as TestClient[],
    grpc: undefined as unknown as MessagingServiceClient,
  };
  const open = async () => {
    state.app = await startTestApp(env, options);
    state.grpc = messagingClient(state.app.server.grpcAddress);
    // With Redis, the shared cache is only used once its client has connected: wait for readiness,
    // as a load balancer would, so that the first answers are shared too.
    if (options.redis) await waitUntilReady(state.app);
  };
  const close = async () => {
    for (const socket of state.sockets.splice(0)) socket.close();
    state.grpc?.close();
    await state.app?.close();
  };
  const connect = async (user: string) => {
    const socket = await TestClient.connect(state.app.server.httpUrl, await state.app.token(user));
    state.sockets.push(socket);
    return socket;
  };
  const createConversation = async (user: string, participantId: string) =>
    call<CreateConversationRequest, Conversation__Output>(state.grpc, state.grpc.createConversation, { participantId }, bearer(await state.app.token(user)));
  return { state, open, close, connect, createConversation };
}

describe('Connections client: the cache', () => {
  const h = harness();
  beforeAll(h.open);
  afterAll(h.close);

  it('asks once per pair, whatever the number of sends, and either direction uses the same answer', async () => {
    const app = h.state.app;
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const [aliceClient, bobClient] = await Promise.all([h.connect(alice), h.connect(bob)]);
    const before = app.connections.calls;

    const { conversation } = await aliceClient.ok('startConversation', { participantId: bob });
    expect(app.connections.calls).toBe(before + 1);
    for (let index = 0; index < 10; index++) await aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: `a${index}` });
    await Promise.all(Array.from({ length: 5 }, (_, index) => aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: `b${index}` })));
    expect(app.connections.calls).toBe(before + 1);

    // Symmetric: bob → alice after alice → bob costs no call, on either transport.
    await bobClient.ok('sendMessage', { conversationId: conversation.conversationId, text: 'reply' });
    await bobClient.ok('startConversation', { participantId: alice });
    await h.createConversation(bob, alice);
    expect(app.connections.calls).toBe(before + 1);
  });

  it('asks for a new pair even when each user has cached answers with others', async () => {
    const app = h.state.app;
    const [alice, bob, carol] = [userId('alice'), userId('bob'), userId('carol')];
    app.graph.connect(alice, bob);
    app.graph.connect(alice, carol);
    const before = app.connections.calls;
    await h.createConversation(alice, bob);
    await h.createConversation(alice, carol);
    expect(await statusOf(h.createConversation(bob, carol))).toBe(status.PERMISSION_DENIED);
    expect(app.connections.calls).toBe(before + 3);
  });

  it('asks once for concurrent first checks of the same pair', async () => {
    const app = h.state.app;
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    app.connections.controls.delayMs = 50;
    try {
      const before = app.connections.calls;
      const results = await Promise.all([
        h.createConversation(alice, bob),
        h.createConversation(bob, alice),
        h.createConversation(alice, bob),
        h.createConversation(bob, alice),
      ]);
      expect(new Set(results.map((result) => result.conversationId)).size).toBe(1);
      expect(app.connections.calls).toBe(before + 1);
    } finally {
      app.connections.controls.delayMs = 0;
    }
  });

  it('counts calls by result in /metrics', async () => {
    const app = h.state.app;
    const [alice, bob, carol] = [userId('alice'), userId('bob'), userId('carol')];
    app.graph.connect(alice, bob);
    await h.createConversation(alice, bob);
    await h.createConversation(bob, alice);
    expect(await statusOf(h.createConversation(alice, carol))).toBe(status.PERMISSION_DENIED);
    const text = await metrics(app);
    expect(text).toContain('# TYPE messaging_connections_calls_total counter');
    expect(sample(text, 'messaging_connections_calls_total', { result: 'connected' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'messaging_connections_calls_total', { result: 'not_connected' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'messaging_connections_calls_total', { result: 'cache_hit' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'messaging_connections_breaker_state')).toBe(0);
  });
});

describe('Connections client: cache lifetimes', () => {
  // Distinct TTLs, so each is seen to apply to its own kind of answer.
  const h = harness({ CONNECTIONS_CACHE_TTL_SECONDS: '1', CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: '2' });
  beforeAll(h.open);
  afterAll(h.close);

  it('keeps a "not connected" answer for CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS, then asks again', async () => {
    const app = h.state.app;
    const [carol, dave] = [userId('carol'), userId('dave')];
    const carolClient = await h.connect(carol);
    const before = app.connections.calls;

    expect(await carolClient.emit('startConversation', { participantId: dave })).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    expect(app.connections.calls).toBe(before + 1);
    const askedAt = Date.now();

    // They connect now; the cached "no" still stands for its TTL, and costs no call.
    app.graph.connect(carol, dave);
    expect(await carolClient.emit('startConversation', { participantId: dave })).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    expect(await statusOf(h.createConversation(dave, carol))).toBe(status.PERMISSION_DENIED);
    expect(app.connections.calls).toBe(before + 1);

    // Past the positive TTL (1 s) but within the negative one (2 s): still cached.
    await sleep(Math.max(0, askedAt + 1300 - Date.now()));
    expect(await carolClient.emit('startConversation', { participantId: dave })).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    expect(app.connections.calls).toBe(before + 1);

    await sleep(Math.max(0, askedAt + 2200 - Date.now()));
    const { conversation } = await carolClient.ok('startConversation', { participantId: dave });
    expect(conversation.participantIds.slice().sort()).toEqual([carol, dave].sort());
    expect(app.connections.calls).toBe(before + 2);
  });

  it('keeps a "connected" answer for CONNECTIONS_CACHE_TTL_SECONDS, then asks again and honours a lost connection', async () => {
    const app = h.state.app;
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const [aliceClient, bobClient] = await Promise.all([h.connect(alice), h.connect(bob)]);
    const before = app.connections.calls;
    const { conversation } = await aliceClient.ok('startConversation', { participantId: bob });
    const askedAt = Date.now();
    expect(app.connections.calls).toBe(before + 1);

    // Disconnected now, but the cached "yes" still allows sending until it expires.
    app.graph.disconnect(alice, bob);
    await aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: 'still cached' });
    expect(app.connections.calls).toBe(before + 1);

    await sleep(Math.max(0, askedAt + 1200 - Date.now()));
    const refused = await aliceClient.emit('sendMessage', { conversationId: conversation.conversationId, text: 'after expiry' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    expect(app.connections.calls).toBe(before + 2);
    // Refused messages are not stored; reading history needs no connection.
    const page = await bobClient.ok('getMessageHistory', { conversationId: conversation.conversationId });
    expect(page.messages.map((message) => message.text)).toEqual(['still cached']);
  });
});

describe('Connections client: a slow service and the circuit breaker', () => {
  const h = harness();
  beforeAll(h.open);
  afterAll(h.close);

  it('fails uncached checks with UNAVAILABLE well within 2 s, keeps using cached answers, opens the breaker, and recovers', async () => {
    const app = h.state.app;
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const aliceClient = await h.connect(alice);
    const { conversation } = await aliceClient.ok('startConversation', { participantId: bob });

    app.connections.controls.delayMs = 2000; // > CONNECTIONS_TIMEOUT_MS (500 by default)
    const newPair = () => {
      const [a, b] = [userId('a'), userId('b')];
      app.graph.connect(a, b);
      return [a, b] as const;
    };
    const attempt = async () => {
      const [a, b] = newPair();
      const started = performance.now();
      const code = await statusOf(h.createConversation(a, b));
      return { code, elapsed: performance.now() - started };
    };

    const first = await attempt();
    expect(first.code).toBe(status.UNAVAILABLE);
    expect(first.elapsed).toBeLessThan(2000);

    // A cached pair goes on working while the service is slow.
    const sendStarted = performance.now();
    await aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: 'cached pair' });
    expect(performance.now() - sendStarted).toBeLessThan(400);

    // Enough failures open the breaker; from then on, checks fail at once without reaching the service.
    let opened = false;
    for (let index = 0; index < 10 && !opened; index++) {
      const result = await attempt();
      expect(result.code).toBe(status.UNAVAILABLE);
      expect(result.elapsed).toBeLessThan(2000);
      opened = sample(await metrics(app), 'messaging_connections_breaker_state') === 2;
    }
    expect(opened).toBe(true);

    const callsWhileOpen = app.connections.calls;
    for (let index = 0; index < 5; index++) {
      const result = await attempt();
      expect(result.code).toBe(status.UNAVAILABLE);
      expect(result.elapsed).toBeLessThan(400); // no waiting for the 500 ms deadline
    }
    const socketRefusal = await aliceClient.emit('startConversation', { participantId: newPair()[0] });
    expect(socketRefusal).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(app.connections.calls).toBe(callsWhileOpen);
    await aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: 'cached pair, breaker open' });

    const whileOpen = await metrics(app);
    expect(sample(whileOpen, 'messaging_connections_calls_total', { result: 'timeout' })).toBeGreaterThanOrEqual(1);
    expect(sample(whileOpen, 'messaging_connections_calls_total', { result: 'breaker_open' })).toBeGreaterThanOrEqual(6);

    // The service answers again: the action succeeds by itself within 15 s.
    app.connections.controls.delayMs = 0;
    const back = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - back < 15_000) {
      recovered = (await attempt()).code === 'ok';
      if (!recovered) await sleep(200);
    }
    expect(recovered).toBe(true);
    expect(performance.now() - back).toBeLessThan(15_000);
    expect(sample(await metrics(app), 'messaging_connections_breaker_state')).toBe(0);
    expect((await attempt()).code).toBe('ok');
  });
});

describe('Connections client: the service down', () => {
  const h = harness({ CONNECTIONS_CACHE_TTL_SECONDS: '1' });
  let restarted: RunningConnectionsServer | undefined;
  beforeAll(h.open);
  afterEach(async () => {
    await restarted?.stop();
    restarted = undefined;
  });
  afterAll(h.close);

  it('fails fast with UNAVAILABLE and changes nothing without a cached answer, then recovers when it is back', async () => {
    const app = h.state.app;
    const [alice, bob, carol, dave, erin, frank, gina, hank] = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'].map((name) => userId(name));
    for (const [a, b] of [[alice, bob], [carol, dave], [erin, frank]] as const) app.graph.connect(a, b);
    const [aliceClient, bobClient, carolClient, erinClient, ginaClient] = await Promise.all([alice, bob, carol, erin, gina].map((user) => h.connect(user)));

    // alice–bob: a conversation whose cached answer has expired; carol–dave: one freshly cached.
    const stale = (await aliceClient.ok('startConversation', { participantId: bob })).conversation;
    await sleep(1100);
    const fresh = (await carolClient.ok('startConversation', { participantId: dave })).conversation;

    await app.connections.stop();

    const timed = async <T>(action: () => Promise<T>) => {
      const started = performance.now();
      const result = await action();
      return { result, elapsed: performance.now() - started };
    };

    // The cached pair still works.
    await carolClient.ok('sendMessage', { conversationId: fresh.conversationId, text: 'cached' });

    // No cached answer: UNAVAILABLE within 2 s, whatever the true answer, and nothing stored.
    const send = await timed(() => aliceClient.emit('sendMessage', { conversationId: stale.conversationId, text: 'lost?' }));
    expect(send.result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(send.elapsed).toBeLessThan(2000);
    const start = await timed(() => erinClient.emit('startConversation', { participantId: frank }));
    expect(start.result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(start.elapsed).toBeLessThan(2000);
    const notConnected = await timed(() => ginaClient.emit('startConversation', { participantId: hank }));
    expect(notConnected.result).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    expect(notConnected.elapsed).toBeLessThan(2000);
    const overGrpc = await timed(() => statusOf(h.createConversation(frank, erin)));
    expect(overGrpc.result).toBe(status.UNAVAILABLE);
    expect(overGrpc.elapsed).toBeLessThan(2000);

    expect((await bobClient.ok('getMessageHistory', { conversationId: stale.conversationId })).messages).toEqual([]);
    expect((await erinClient.ok('listConversations', {})).conversations).toEqual([]);
    expect(bobClient.events('newMessage')).toEqual([]);

    // Back on the same address: the actions succeed by themselves within 15 s.
    restarted = await startConnectionsServer(app.graph, { port: app.connections.port });
    const back = performance.now();
    let recovered = false;
    while (!recovered && performance.now() - back < 15_000) {
      recovered = (await aliceClient.emit('sendMessage', { conversationId: stale.conversationId, text: 'after recovery' })).ok;
      if (!recovered) await sleep(200);
    }
    expect(recovered).toBe(true);
    expect(performance.now() - back).toBeLessThan(15_000);
    expect(restarted.calls).toBeGreaterThanOrEqual(1);
    await erinClient.ok('startConversation', { participantId: frank });
    expect(await ginaClient.emit('startConversation', { participantId: hank })).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    const history = await bobClient.ok('getMessageHistory', { conversationId: stale.conversationId });
    expect(history.messages.map((message) => message.text)).toEqual(['after recovery']);
  });
});

describe('Connections client: the shared cache in Redis', () => {
  const first = harness({}, { redis: true });
  const second = harness({}, { redis: true });
  beforeAll(async () => {
    await Promise.all([first.open(), second.open()]);
  });
  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  it("uses another instance's answers: the second instance's checks cost no call", async () => {
    const [alice, bob, carol, dave] = [userId('alice'), userId('bob'), userId('carol'), userId('dave')];
    // Only the first instance's Connections server knows alice–bob; the second's graph is empty.
    first.state.app.graph.connect(alice, bob);
    const conversation = await first.createConversation(alice, bob);
    expect(first.state.app.connections.calls).toBe(1);

    const secondCalls = second.state.app.connections.calls;
    const bobOnSecond = await second.connect(bob);
    const again = await bobOnSecond.ok('startConversation', { participantId: alice });
    expect(again.conversation.conversationId).toBe(conversation.conversationId);
    await bobOnSecond.ok('sendMessage', { conversationId: conversation.conversationId!, text: 'via the second instance' });
    expect(second.state.app.connections.calls).toBe(secondCalls);

    // "Not connected" is shared the same way.
    expect(await statusOf(first.createConversation(carol, dave))).toBe(status.PERMISSION_DENIED);
    second.state.app.graph.connect(carol, dave);
    expect(await statusOf(second.createConversation(dave, carol))).toBe(status.PERMISSION_DENIED);
    expect(second.state.app.connections.calls).toBe(secondCalls);
    const text = await metrics(second.state.app);
    expect(sample(text, 'messaging_connections_calls_total', { result: 'cache_hit' })).toBeGreaterThanOrEqual(3);
  });

  it('still uses the shared answer when the asking instance cannot reach its Connections service', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    first.state.app.graph.connect(alice, bob);
    await first.createConversation(bob, alice);
    second.state.app.connections.controls.delayMs = 2000;
    try {
      const started = performance.now();
      const conversation = await second.createConversation(alice, bob);
      expect(conversation.participantIds?.slice().sort()).toEqual([alice, bob].sort());
      expect(performance.now() - started).toBeLessThan(400);
    } finally {
      second.state.app.connections.controls.delayMs = 0;
    }
  });
});
