import { expect } from 'vitest';
import { testCleanup } from '../cleanup.js';
import { prefixed, report, sleep } from '../figures.js';
import { pollUntil } from '../processes.js';
import { startRedisCluster } from '../redis-cluster.mjs';
import { startLoadCluster } from './load-cluster.js';
import { userRoomChannel } from '../shard-channels.js';

export interface RedisClusterFailoverOptions {
  label: string;
  pairs: number;
  perUserRate: number;
  /** cluster-node-timeout: how long the cluster takes to declare the killed master failed. */
  nodeTimeoutMs: number;
}

/**
 * Two instances on a Redis Cluster of 3 masters with a replica each, under load; the master that
 * serves the first recipient's room channel is killed with SIGKILL. Sends go on being
 * acknowledged; once its replica has been promoted, cross-instance delivery resumes by itself
 * within 15 s (CONTRACT §1, REDIS_CLUSTER_URLS), readiness is back, and nothing acknowledged is
 * lost: what a live socket missed reaches it through catch-up or seq gap fill.
 */
export async function redisClusterFailover(options: RedisClusterFailoverOptions): Promise<void> {
  const cleanup = testCleanup();
  const redisCluster = await startRedisCluster({ nodeTimeoutMs: options.nodeTimeoutMs });
  cleanup.add(() => redisCluster.stop());
  try {
    const cluster = await startLoadCluster({ pairs: options.pairs, perUserRate: options.perUserRate, redisCluster: redisCluster.seeds });
    cleanup.add(() => cluster.cleanup.run());
    await sleep(3000);

    // The master of the channel that the probe of crossInstanceDelivery() goes through.
    const victim = await redisCluster.masterOf(userRoomChannel(cluster.pairs[0]!.b.userId));
    const mastersBefore = await redisCluster.masters();
    await redisCluster.kill(victim, 'SIGKILL');
    cluster.setPhase('failover');
    const killedAt = Date.now();
    const promoted = await pollUntil(
      'a replica to take over from the killed master',
      async () => (await redisCluster.masters()).find((port) => !mastersBefore.includes(port)),
      30_000,
      100,
    );
    const promotedAt = Date.now();
    cluster.setPhase('after');
    const resumedMs = await cluster.crossInstanceDelivery(promotedAt, 20_000);
    const readyMs = await pollUntil(
      'both instances ready again',
      () => (cluster.probes.every((list) => list.at(-1)?.ready && list.at(-1)!.at > promotedAt) ? Date.now() - promotedAt : undefined),
      20_000,
    );
    await sleep(1000);
    await cluster.stopLoad();
    const { acked, lost, filledFromHistory } = await cluster.verifyNothingLost();

    const during = cluster.ackTimes('failover');
    const before = cluster.ackTimes('before');
    const duringProbes = cluster.probes.flat().filter((probe) => probe.at > killedAt && probe.at < promotedAt);
    const notReady = duringProbes.filter((probe) => probe.ready === false).length;
    const reconnects = cluster.clients.reduce((sum, client) => sum + client.disconnects.length, 0);
    report(`Redis Cluster master killed (${options.label})`, {
      rate_msg_per_s: 2 * options.pairs * options.perUserRate,
      node_timeout_ms: options.nodeTimeoutMs,
      killed_master: victim,
      promoted_replica: promoted,
      promoted_after_ms: promotedAt - killedAt,
      acked_during_failover: during.count,
      ...prefixed('ack_ms_failover', { p50: during.p50, p99: during.p99, max: during.max }),
      ...prefixed('ack_ms_before', { p50: before.p50, p99: before.p99 }),
      readiness_503_during_failover: `${notReady}/${duringProbes.length}`,
      cross_instance_back_after_promotion_ms: resumedMs,
      ready_again_after_promotion_ms: readyMs,
      client_disconnects: reconnects,
      acked,
      lost,
      filled_from_history: filledFromHistory,
    });
    // Sends went on being acknowledged from the database while the master was away.
    expect(during.count).toBeGreaterThan(0);
    // Readiness covers the cluster (CONTRACT §6): it said so while a master's slots had none.
    expect(notReady).toBeGreaterThan(0);
    expect(resumedMs).toBeLessThan(15_000);
    expect(readyMs).toBeLessThan(15_000);
    expect(lost).toBe(0);
  } finally {
    await cleanup.run();
  }
}
