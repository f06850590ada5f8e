import { expect } from 'vitest';
import { testCleanup } from '../cleanup.js';
import { startFaultProxy } from '../fault-proxy.js';
import { report, sample, scrape } from '../figures.js';
import { userId } from '../factories.js';
import { pollUntil } from '../processes.js';
import { TestClient } from '../socket-client.js';
import { startTestApp } from '../test-app.js';

export interface FrozenClientOptions {
  label: string;
  /** SOCKET_PING_INTERVAL_MS / SOCKET_PING_TIMEOUT_MS; undefined: the service's defaults (25 s / 20 s). */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

/**
 * A client that freezes (a laptop lid shut, a process stopped, a network path that silently drops
 * everything) answers no ping. The fault proxy between it and the service blackholes the
 * connection both ways, so neither side sees it close. The service must drop that socket within
 * the ping window (interval + timeout), clear the typing indicator it held, and free its slot in
 * the user's socket quota; the other participant's socket is unaffected.
 */
export async function frozenClient(options: FrozenClientOptions): Promise<void> {
  const cleanup = testCleanup();
  const interval = options.pingIntervalMs ?? 25_000;
  const timeout = options.pingTimeoutMs ?? 20_000;
  const app = await startTestApp({
    ...(options.pingIntervalMs ? { SOCKET_PING_INTERVAL_MS: String(options.pingIntervalMs) } : {}),
    ...(options.pingTimeoutMs ? { SOCKET_PING_TIMEOUT_MS: String(options.pingTimeoutMs) } : {}),
    // Far longer than the ping window: the indicator must fall because the socket was dropped.
    TYPING_TIMEOUT_MS: String(10 * (interval + timeout)),
    MAX_SOCKETS_PER_USER: '1',
  });
  cleanup.add(() => app.close());
  const proxy = await startFaultProxy({ port: Number(new URL(app.server.httpUrl).port) });
  cleanup.add(() => proxy.close());
  const clients: TestClient[] = [];
  cleanup.add(() => clients.forEach((client) => client.close()));
  try {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const frozen = await TestClient.connect(`http://127.0.0.1:${proxy.port}`, await app.token(alice));
    const other = await TestClient.connect(app.server.httpUrl, await app.token(bob));
    clients.push(frozen, other);
    const { conversationId } = (await frozen.ok('startConversation', { participantId: bob })).conversation;
    await frozen.ok('startTyping', { conversationId });
    await other.waitFor('typing');
    const sockets = async () => sample(await scrape(app.server.httpUrl), 'messaging_connected_sockets') ?? Number.NaN;
    expect(await sockets()).toBe(2);

    proxy.blackhole('both');
    const frozenAt = Date.now();
    const [stopped] = await other.waitFor('typingStopped', undefined, { timeoutMs: interval + timeout + 5000 });
    const clearedAfterMs = Date.now() - frozenAt;
    expect(stopped).toEqual({ conversationId, userId: alice });
    const droppedAfterMs = await pollUntil('the frozen socket to be dropped', async () => ((await sockets()) === 1 ? Date.now() - frozenAt : undefined), 5000);
    // Its quota slot is free again: the user can connect (MAX_SOCKETS_PER_USER=1).
    const back = await TestClient.connect(app.server.httpUrl, await app.token(alice));
    clients.push(back);
    // The other participant's socket never noticed anything.
    expect(other.socket.connected).toBe(true);
    await other.ok('sendMessage', { conversationId, text: 'still here' });
    await back.waitFor('newMessage', (message) => message.text === 'still here');

    report(`frozen client (${options.label})`, {
      ping_interval_ms: interval,
      ping_timeout_ms: timeout,
      typing_cleared_after_ms: clearedAfterMs,
      socket_dropped_after_ms: droppedAfterMs,
      other_socket_disconnected: !other.socket.connected,
    });
    expect(clearedAfterMs).toBeLessThanOrEqual(interval + timeout + 1000);
    expect(clearedAfterMs).toBeGreaterThanOrEqual(timeout - 200);
  } finally {
    await cleanup.run();
  }
}
