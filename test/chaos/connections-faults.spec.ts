import { describe, expect, inject, it } from 'vitest';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { testCleanup } from '../support/cleanup.js';
import { createConversation, openDatabase } from '../support/database.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { distribution, report, sample, scrape, sleep } from '../support/figures.js';
import { messageText, userId } from '../support/factories.js';
import { pollUntil } from '../support/processes.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp } from '../support/test-app.js';

const TIMEOUT_MS = 500; // CONNECTIONS_TIMEOUT_MS, the deadline of one IsConnected call
const CACHE_TTL_S = 3;

interface Attempt {
  phase: string;
  /** cold: nothing cached; warm: a valid cached "connected"; warm-expired: cached once, expired; not-connected: a conversation but no connection. */
  kind: string;
  ok: boolean;
  code: string;
  ms: number;
  breaker: number;
}

/**
 * CONTRACT §5 under the three ways a dependency fails: slow (2 s per answer), down (its port
 * closed, through the fault proxy), and failing half its calls. The deadline must hold, the breaker
 * must open and then fail fast, half-open and recover by itself, and no send may pass without a
 * valid cached "connected": pairs that have a conversation but are not connected are never let
 * through, whatever the phase, nor pairs whose cached answer has expired while the service is down;
 * pairs with nothing cached pass only on a fresh "connected" answer.
 */
describe('the Connections service slow, down and half failing (chaos)', () => {
  it('holds the deadline, opens the breaker and fails fast, recovers by itself, and allows no send on a guess', async () => {
    const cleanup = testCleanup();
    const graph = new ConnectionsGraph();
    const connections = await startConnectionsServer(graph);
    cleanup.add(() => connections.stop());
    const proxy = await startFaultProxy({ port: connections.port });
    cleanup.add(() => proxy.close());
    const app = await startTestApp({
      CONNECTIONS_GRPC_URL: proxy.address,
      CONNECTIONS_TIMEOUT_MS: String(TIMEOUT_MS),
      CONNECTIONS_CACHE_TTL_SECONDS: String(CACHE_TTL_S),
      CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: '1',
      RATE_LIMIT_MESSAGES_PER_SECOND: '1000',
    });
    cleanup.add(() => app.close());
    const sockets: TestClient[] = [];
    cleanup.add(() => sockets.forEach((socket) => socket.close()));
    try {
      // Conversations made directly in the database (nothing asked of, nor cached from, the Connections
      // service, whose breaker counts over a rolling 10 s window): connected pairs with nothing cached
      // ("cold"), and pairs that are not connected at all.
      const db = openDatabase(inject('databaseUrl'), 2);
      cleanup.add(() => db.close());
      const pair = async (connectedPair: boolean) => {
        const [alice, bob] = [userId('alice'), userId('bob')];
        if (connectedPair) graph.connect(alice, bob);
        const conversation = await createConversation(db, alice, bob);
        const socket = await TestClient.connect(app.server.httpUrl, await app.token(alice));
        sockets.push(socket);
        return { alice, bob, socket, conversationId: conversation.conversationId };
      };
      let cold = await Promise.all(Array.from({ length: 50 }, () => pair(true)));
      const notConnected = await Promise.all(Array.from({ length: 5 }, () => pair(false)));
      // Warm pairs: a valid cached "connected", from a send just before the fault.
      const warm = await Promise.all(Array.from({ length: 5 }, () => pair(true)));
      for (const { socket, conversationId } of warm) await socket.ok('sendMessage', { conversationId, text: messageText() });

      const attempts: Attempt[] = [];
      const breakerState = async () => sample(await scrape(app.server.httpUrl), 'messaging_connections_breaker_state') ?? -1;
      const attempt = async (phase: string, kind: string, target: { socket: TestClient; conversationId: string }) => {
        const breaker = await breakerState();
        const started = performance.now();
        const result = await target.socket.emit('sendMessage', { conversationId: target.conversationId, text: messageText(phase) }, 10_000);
        const entry = { phase, kind, ok: result.ok, code: result.ok ? 'ok' : result.error.code, ms: performance.now() - started, breaker };
        attempts.push(entry);
        return entry;
      };
      const takeCold = () => {
        const next = cold[0]!;
        cold = cold.slice(1);
        return next;
      };

      // Slow: every answer takes 2 s. Warm pairs go on from the cache; cold pairs fail at the
      // deadline until the breaker opens, then at once.
      connections.controls.delayMs = 2000;
      for (const target of warm) await attempt('slow', 'warm', target);
      for (let index = 0; index < 10; index++) await attempt('slow', 'cold', takeCold());
      for (const target of notConnected) await attempt('slow', 'not-connected', target);
      connections.controls.delayMs = 0;

      // Down: the port is closed. The breaker half-opens after 5 s, its trial call fails, it opens again.
      await proxy.down();
      const downAt = Date.now();
      for (let index = 0; index < 4; index++) await attempt('down', 'cold', takeCold());
      await pollUntil('the breaker to half-open', async () => ((await breakerState()) === 1 ? true : undefined), 10_000, 100);
      const halfOpenAfterMs = Date.now() - downAt;
      for (let index = 0; index < 4; index++) await attempt('down', 'cold', takeCold());
      for (const target of notConnected) await attempt('down', 'not-connected', target);
      // Warm pairs' answers have expired by now: nothing cached, nothing allowed.
      for (const target of warm) await attempt('down', 'warm-expired', target);
      await proxy.up();

      // Half failing: each call fails with probability 1/2, for 8 s.
      connections.controls.failureRate = 0.5;
      const halfStarted = Date.now();
      while (Date.now() - halfStarted < 8000 && cold.length > 12) {
        await attempt('half', 'cold', takeCold());
        await attempt('half', 'not-connected', notConnected[attempts.length % notConnected.length]!);
        await sleep(200);
      }

      // Healthy again: the breaker recovers by itself (CONTRACT §5: within 15 s).
      connections.controls.failureRate = 0;
      const healedAt = Date.now();
      const probe = takeCold(); // refusals cache nothing: the same pair until it passes
      const recovered = await pollUntil(
        'a send on a fresh answer',
        async () => ((await attempt('recovery', 'cold', probe)).ok ? Date.now() - healedAt : undefined),
        15_000,
        100,
      );
      for (const target of notConnected) await attempt('after', 'not-connected', target);

      const of = (phase: string, kind: string) => attempts.filter((entry) => entry.phase === phase && entry.kind === kind);
      const slowCold = of('slow', 'cold');
      const atDeadline = slowCold.filter((entry) => entry.breaker !== 2);
      const whileOpen = attempts.filter((entry) => entry.breaker === 2 && !entry.ok);
      const half = of('half', 'cold');
      report('Connections service faults', {
        deadline_ms: TIMEOUT_MS,
        slow_refusals_at_deadline: atDeadline.length,
        slow_refusal_ms_max: distribution(atDeadline.map((entry) => entry.ms)).max,
        slow_warm_ack_ms_max: distribution(of('slow', 'warm').map((entry) => entry.ms)).max,
        breaker_open_refusals: whileOpen.length,
        breaker_open_refusal_ms_p50: distribution(whileOpen.map((entry) => entry.ms)).p50,
        breaker_open_refusal_ms_max: distribution(whileOpen.map((entry) => entry.ms)).max,
        down_refusal_ms_max: distribution(of('down', 'cold').map((entry) => entry.ms)).max,
        breaker_half_open_after_ms: halfOpenAfterMs,
        half_failing_cold_sends: half.length,
        half_failing_allowed: half.filter((entry) => entry.ok).length,
        recovered_after_ms: recovered,
        not_connected_attempts: attempts.filter((entry) => entry.kind === 'not-connected').length,
        not_connected_allowed: attempts.filter((entry) => entry.kind === 'not-connected' && entry.ok).length,
        expired_allowed_while_down: of('down', 'warm-expired').filter((entry) => entry.ok).length,
      });

      // The deadline holds: a slow answer costs at most the deadline (plus the breaker's backstop), never 2 s.
      expect(atDeadline.length).toBeGreaterThanOrEqual(1);
      for (const entry of atDeadline) {
        expect(entry.code).toBe('UNAVAILABLE');
        expect(entry.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(entry.ms).toBeLessThan(TIMEOUT_MS + 500);
      }
      // The breaker opened during the slow phase, and refuses at once while open.
      expect(slowCold.some((entry) => entry.breaker === 2)).toBe(true);
      expect(whileOpen.length).toBeGreaterThanOrEqual(5);
      expect(distribution(whileOpen.map((entry) => entry.ms)).p50).toBeLessThan(10);
      for (const entry of whileOpen) expect(entry.code).toBe('UNAVAILABLE');
      // Valid cached answers go on working while the service is slow.
      for (const entry of of('slow', 'warm')) expect(entry).toMatchObject({ ok: true });
      expect(distribution(of('slow', 'warm').map((entry) => entry.ms)).max).toBeLessThan(TIMEOUT_MS);
      // Down: refused, fast, never allowed; half-open after the reset timeout.
      for (const entry of of('down', 'cold')) expect(entry.code).toBe('UNAVAILABLE');
      expect(distribution(of('down', 'cold').map((entry) => entry.ms)).max).toBeLessThan(2000);
      expect(halfOpenAfterMs).toBeLessThan(7000);
      // No guesses: pairs that are not connected never pass, expired answers are not used.
      expect(attempts.filter((entry) => entry.kind === 'not-connected' && entry.ok)).toEqual([]);
      expect(of('down', 'warm-expired').filter((entry) => entry.ok)).toEqual([]);
      for (const entry of of('after', 'not-connected')) expect(entry.code).toBe('PERMISSION_DENIED');
      // Recovery by itself, within CONTRACT §5's 15 s.
      expect(recovered).toBeLessThan(15_000);
    } finally {
      await cleanup.run();
    }
  });
});
