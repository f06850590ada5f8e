import { expect } from 'vitest';
import { prefixed, report, sleep } from '../figures.js';
import { pollUntil } from '../processes.js';
import { startLoadCluster } from './load-cluster.js';

export interface RedisKillOptions {
  label: string;
  outageMs: number;
  pairs: number;
  perUserRate: number;
}

/**
 * Redis killed (SIGKILL) under load and started again, empty, on the same port after `outageMs`:
 * sends go on being acknowledged and stored, readiness says Redis is down, cross-instance delivery
 * comes back within 5 s of Redis accepting connections again, and nothing acknowledged is lost.
 */
export async function redisKill(options: RedisKillOptions): Promise<void> {
  const cluster = await startLoadCluster({ pairs: options.pairs, perUserRate: options.perUserRate });
  try {
    await sleep(3000);
    await cluster.redis.kill('SIGKILL');
    cluster.setPhase('down');
    const killedAt = Date.now();
    await sleep(options.outageMs);
    cluster.setPhase('after');
    await cluster.redis.start();
    const backAt = Date.now();
    const resumedMs = await cluster.crossInstanceDelivery(backAt);
    const readyMs = await pollUntil(
      'both instances ready again',
      () => (cluster.probes.every((list) => list.at(-1)?.ready && list.at(-1)!.at > backAt) ? Date.now() - backAt : undefined),
      10_000,
    );
    await sleep(1000);
    await cluster.stopLoad();
    const { acked, lost, filledFromHistory } = await cluster.verifyNothingLost();

    const down = cluster.ackTimes('down');
    const before = cluster.ackTimes('before');
    const duringProbes = cluster.probes.flat().filter((probe) => probe.at > killedAt + 1500 && probe.at < backAt);
    const notReady = duringProbes.filter((probe) => probe.ready === false).length;
    report(`Redis killed (${options.label})`, {
      outage_ms: options.outageMs,
      rate_msg_per_s: 2 * options.pairs * options.perUserRate,
      acked_during_outage: down.count,
      ...prefixed('ack_ms_outage', { p50: down.p50, p99: down.p99, max: down.max }),
      ...prefixed('ack_ms_before', { p50: before.p50, p99: before.p99 }),
      readiness_503_during_outage: `${notReady}/${duringProbes.length}`,
      cross_instance_back_after_ms: resumedMs,
      ready_again_after_ms: readyMs,
      event_loop_lag_max_ms: Math.max(...duringProbes.map((probe) => probe.lagMaxMs)),
      acked,
      lost,
      filled_from_history: filledFromHistory,
    });
    // Sends went on during the outage at the offered rate, promptly, and were stored.
    expect(down.count).toBeGreaterThan(0.8 * (options.outageMs / 1000) * 2 * options.pairs * options.perUserRate);
    expect(down.p99).toBeLessThan(500);
    expect(duringProbes.length).toBeGreaterThan(0);
    expect(notReady).toBe(duringProbes.length);
    expect(resumedMs).toBeLessThan(5000);
    expect(lost).toBe(0);
  } finally {
    await cluster.cleanup.run();
  }
}
