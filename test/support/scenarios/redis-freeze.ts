import { expect } from 'vitest';
import type { AckResult } from '@platform/messaging-client/contract';
import { distribution, prefixed, report, sleep } from '../figures.js';
import { startLoadCluster } from './load-cluster.js';

export interface RedisFreezeOptions {
  label: string;
  freezeMs: number;
  pairs: number;
  perUserRate: number;
  /** Cache life of a "connected" answer: shorter than the freeze, so that cached answers expire during it. */
  cacheTtlSeconds: number;
}

/**
 * Redis frozen (SIGSTOP): its connections stay open and nothing answers, the worst case for a
 * client library, which keeps every command waiting for a reply. Two real instances under load:
 * sends must still be acknowledged quickly from the database (p99 < 500 ms), new conversations too
 * (the shared cache is skipped when it does not answer), the event loops must stay responsive
 * (lag < 100 ms), and the adapter's backlog of unanswered publishes must stop growing. After
 * SIGCONT cross-instance delivery comes back, and nothing acknowledged is missing.
 */
export async function redisFreeze(options: RedisFreezeOptions): Promise<void> {
  const cluster = await startLoadCluster({
    pairs: options.pairs,
    perUserRate: options.perUserRate,
    env: { CONNECTIONS_CACHE_TTL_SECONDS: String(options.cacheTtlSeconds) },
  });
  try {
    await sleep(3000);
    const before = cluster.probes.map((list) => list.at(-1)!);
    cluster.redis.signal('SIGSTOP');
    cluster.setPhase('frozen');
    const frozenAt = Date.now();

    // New conversations during the freeze: their Connections check finds nothing cached in this process.
    const starts: number[] = [];
    const startsEvery = Math.max(500, options.freezeMs / 10);
    while (Date.now() - frozenAt < options.freezeMs - startsEvery) {
      const { a, bob } = await cluster.connectPair(cluster.pairs.length + starts.length);
      const started = performance.now();
      const result = (await a.socket
        .timeout(10_000)
        .emitWithAck('startConversation', { participantId: bob })
        .catch(() => undefined)) as AckResult<unknown> | undefined;
      starts.push(result?.ok ? performance.now() - started : Number.POSITIVE_INFINITY);
      await sleep(startsEvery);
    }
    await sleep(Math.max(0, options.freezeMs - (Date.now() - frozenAt)));
    const during = cluster.probes.map((list) => list.filter((probe) => probe.at >= frozenAt));
    const atThaw = cluster.probes.map((list) => list.at(-1)!);
    cluster.setPhase('after');
    cluster.redis.signal('SIGCONT');
    const thawedAt = Date.now();
    const resumedMs = await cluster.crossInstanceDelivery(thawedAt);
    await sleep(1000);
    await cluster.stopLoad();
    const { acked, lost, filledFromHistory } = await cluster.verifyNothingLost();

    const frozenAcks = cluster.ackTimes('frozen');
    const normalAcks = cluster.ackTimes('before');
    const startTimes = distribution(starts);
    const lagMax = Math.max(...during.flat().map((probe) => probe.lagMaxMs));
    const half = frozenAt + options.freezeMs / 2;
    const backlog = (from: number, to: number) =>
      Math.max(...during.flat().filter((probe) => probe.at >= from && probe.at < to).map((probe) => probe.pending ?? Number.NaN));
    const firstHalf = backlog(frozenAt, half);
    const secondHalf = backlog(half, Number.POSITIVE_INFINITY);
    const heapGrowth = Math.max(...atThaw.map((probe, index) => probe.heapMb - before[index]!.heapMb));
    report(`Redis frozen (${options.label})`, {
      freeze_ms: options.freezeMs,
      rate_msg_per_s: 2 * options.pairs * options.perUserRate,
      sends_during_freeze: frozenAcks.count,
      ...prefixed('ack_ms_frozen', { p50: frozenAcks.p50, p99: frozenAcks.p99, max: frozenAcks.max }),
      ...prefixed('ack_ms_before', { p50: normalAcks.p50, p99: normalAcks.p99 }),
      new_conversations_frozen: starts.length,
      ...prefixed('start_conversation_ms_frozen', { p50: startTimes.p50, max: startTimes.max }),
      event_loop_lag_max_ms: lagMax,
      adapter_backlog_first_half_max: firstHalf,
      adapter_backlog_second_half_max: secondHalf,
      heap_growth_mb: heapGrowth,
      cross_instance_back_after_thaw_ms: resumedMs,
      acked,
      lost,
      filled_from_history: filledFromHistory,
    });
    expect(frozenAcks.count).toBeGreaterThan(0);
    expect(frozenAcks.p99).toBeLessThan(500);
    expect(startTimes.max).toBeLessThan(500);
    expect(lagMax).toBeLessThan(100);
    // Bounded: once the publisher is seen stalled (PUBLISH_STALL_MS) broadcasts stay local and the backlog stops growing.
    expect(Number.isFinite(firstHalf) && Number.isFinite(secondHalf)).toBe(true);
    expect(secondHalf).toBeLessThanOrEqual(firstHalf);
    expect(resumedMs).toBeLessThan(5000);
  } finally {
    await cluster.cleanup.run();
  }
}
