import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import { userId } from '../support/factories.js';
import { sample } from '../support/prometheus.js';
import { bearer, call, messagingClient } from '../support/grpc-client.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';


describe('HTTP: health and metrics', () => {
  let app: TestApp;
  const sockets: TestClient[] = [];
  const connect = async (user: string) => {
    const socket = await TestClient.connect(app.server.httpUrl, await app.token(user));
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await app?.close();
  });

  it('GET /health/live answers 200', async () => {
    const response = await fetch(`${app.server.httpUrl}/health/live`);
    expect(response.status).toBe(200);
  });

  it('GET /health/ready answers 200 with the database up and Redis not configured', async () => {
    const response = await fetch(`${app.server.httpUrl}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ready: true, checks: { database: 'up', redis: 'not configured' } });
  });

  it('answers 404 for an unknown path, and the health endpoints need no token', async () => {
    expect((await fetch(`${app.server.httpUrl}/no-such-path`)).status).toBe(404);
    const withBadToken = await fetch(`${app.server.httpUrl}/health/ready`, { headers: { authorization: 'Bearer garbage' } });
    expect(withBadToken.status).toBe(200);
  });

  it('GET /metrics serves Prometheus text with the service series and the Node.js process metrics', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const [aliceSocket, bobSocket] = await Promise.all([connect(alice), connect(bob)]);
    const { conversation } = await aliceSocket.ok('startConversation', { participantId: bob });
    await aliceSocket.ok('sendMessage', { conversationId: conversation.conversationId, text: 'one' });
    await aliceSocket.ok('sendMessage', { conversationId: conversation.conversationId, text: 'two' });
    expect(await aliceSocket.emit('sendMessage', { conversationId: conversation.conversationId, text: '   ' })).toMatchObject({ ok: false });
    await bobSocket.ok('getMessageHistory', { conversationId: conversation.conversationId });
    const grpc = messagingClient(app.server.grpcAddress);
    try {
      await call<HistoryRequest, HistoryResponse__Output>(grpc, grpc.getMessageHistory, { conversationId: conversation.conversationId }, bearer(await app.token(bob)));
    } finally {
      grpc.close();
    }

    const response = await fetch(`${app.server.httpUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();

    for (const [name, type] of [
      ['messaging_connected_sockets', 'gauge'],
      ['messaging_messages_stored_total', 'counter'],
      ['messaging_socket_events_total', 'counter'],
      ['messaging_message_handling_seconds', 'histogram'],
      ['messaging_history_query_seconds', 'histogram'],
      ['messaging_connections_calls_total', 'counter'],
      ['messaging_connections_breaker_state', 'gauge'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ] as const) {
      expect(text, name).toContain(`# TYPE ${name} ${type}`);
    }

    // This app's own registry: the counts are exactly what this test did.
    expect(sample(text, 'messaging_connected_sockets')).toBe(2);
    expect(sample(text, 'messaging_messages_stored_total')).toBe(2);
    expect(sample(text, 'messaging_socket_events_total', { event: 'sendMessage', result: 'ok' })).toBe(2);
    expect(sample(text, 'messaging_socket_events_total', { event: 'sendMessage', result: 'INVALID_ARGUMENT' })).toBe(1);
    expect(sample(text, 'messaging_socket_events_total', { event: 'startConversation', result: 'ok' })).toBe(1);
    expect(sample(text, 'messaging_socket_events_total', { event: 'getMessageHistory', result: 'ok' })).toBe(1);
    expect(sample(text, 'messaging_message_handling_seconds_count')).toBe(3);
    expect(sample(text, 'messaging_message_handling_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(sample(text, 'messaging_history_query_seconds_count')).toBe(2);
    expect(sample(text, 'messaging_connections_calls_total', { result: 'connected' })).toBe(1);
    expect(sample(text, 'messaging_connections_breaker_state')).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('follows the connected sockets gauge down when sockets leave', async () => {
    const scrape = async () => sample(await (await fetch(`${app.server.httpUrl}/metrics`)).text(), 'messaging_connected_sockets') ?? Number.NaN;
    const before = await scrape();
    const socket = await connect(userId('carol'));
    expect(await scrape()).toBe(before + 1);
    socket.close();
    const deadline = Date.now() + 2000;
    while ((await scrape()) !== before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await scrape()).toBe(before);
  });
});

describe('HTTP: readiness with Redis', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({}, { redis: true });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('GET /health/ready answers 200 with the database and Redis up', async () => {
    // Ready once the Redis client has connected: a few milliseconds after start at most here.
    const deadline = Date.now() + 5000;
    let response = await fetch(`${app.server.httpUrl}/health/ready`);
    while (response.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      response = await fetch(`${app.server.httpUrl}/health/ready`);
    }
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ready: true, shuttingDown: false, checks: { database: 'up', redis: 'up' } });
    expect((await fetch(`${app.server.httpUrl}/health/live`)).status).toBe(200);
  });
});
