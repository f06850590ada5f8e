import pg from 'pg';
import { expect, inject } from 'vitest';
import { signUserToken } from '../../../src/auth/jwt-signer.js';
import type { Message } from '@platform/messaging-client/contract';
import { CarefulClient, LoadBalancer, startConversation } from '../careful-client.js';
import { testCleanup } from '../cleanup.js';
import { startClusterParts, type Pair } from './cluster-parts.js';
import { pacedSends } from './paced-load.js';
import { distribution, sample, scrape, sleep } from '../figures.js';
import { userId } from '../factories.js';
import { pollUntil } from '../processes.js';
import { spawnService, type ReadyService } from '../service-process.js';
import { TEST_JWT_SECRET } from '../test-app.js';

export type { Pair };

export interface Probe {
  at: number;
  lagMaxMs: number;
  heapMb: number;
  rssMb: number;
  pending?: number;
  ready?: boolean;
}

export interface Timing {
  at: number;
  ms: number;
  phase: string;
}

/**
 * Two real instances (`node dist/main.js`) on the run's database, a Redis of the test's own and a
 * Connections service the test controls, with careful clients in pairs across the two instances
 * (so that every message crosses Redis), a steady send load, and each instance's metrics scraped
 * twice a second. Used by the Redis fault scenarios. With `redisCluster` (seeds), the instances
 * share that Redis Cluster instead (REDIS_CLUSTER_URLS) and leave the private Redis alone.
 */
export async function startLoadCluster(options: { pairs: number; perUserRate: number; env?: Record<string, string>; redisCluster?: string }) {
  const cleanup = testCleanup();
  const sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
  cleanup.add(() => sql.end());
  // An empty REDIS_URL counts as unset (loadConfig), so that the cluster is the one shared Redis.
  const onCluster: Record<string, string> = options.redisCluster ? { REDIS_URL: '', REDIS_CLUSTER_URLS: options.redisCluster } : {};
  const { redis, graph, connections, env } = await startClusterParts(cleanup, { ...options.env, ...onCluster });
  cleanup.add(() => redis.signal('SIGCONT'));
  const instances: ReadyService[] = await Promise.all([spawnService(env), spawnService(env)]);
  cleanup.add(async () => {
    for (const instance of instances) instance.kill('SIGKILL');
    await Promise.all(instances.map((instance) => instance.exited));
  });
  const balancer = new LoadBalancer(instances.map((instance) => instance.httpUrl));
  const clients: CarefulClient[] = [];
  cleanup.add(() => clients.forEach((client) => client.close()));

  const connectPair = async (index: number) => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    graph.connect(alice, bob);
    const a = new CarefulClient({ userId: alice, token: await signUserToken(TEST_JWT_SECRET, alice), url: instances[index % 2]!.httpUrl, balancer });
    const b = new CarefulClient({ userId: bob, token: await signUserToken(TEST_JWT_SECRET, bob), url: instances[(index + 1) % 2]!.httpUrl, balancer });
    clients.push(a, b);
    await Promise.all([a.connected(), b.connected()]);
    return { a, b, bob };
  };
  const pairs: Pair[] = [];
  for (let index = 0; index < options.pairs; index++) {
    const { a, b, bob } = await connectPair(index);
    pairs.push({ conversationId: await startConversation(a.socket, bob), a, b });
  }

  // Metrics: prom-client's event-loop histogram is reset at every scrape, so each probe is the worst lag since the last.
  const probes: Probe[][] = instances.map(() => []);
  let probing = true;
  cleanup.add(() => (probing = false));
  const prober = (async () => {
    while (probing) {
      await Promise.all(
        instances.map(async (instance, index) => {
          const [text, ready] = await Promise.all([
            scrape(instance.httpUrl).catch(() => ''),
            fetch(`${instance.httpUrl}/health/ready`, { signal: AbortSignal.timeout(1500) }).then(
              (response) => response.status === 200,
              () => false,
            ),
          ]);
          if (!text) return;
          probes[index]!.push({
            at: Date.now(),
            lagMaxMs: (sample(text, 'nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
            heapMb: (sample(text, 'nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20,
            rssMb: (sample(text, 'process_resident_memory_bytes') ?? 0) / 2 ** 20,
            pending: sample(text, 'messaging_socket_adapter_redis_pending_commands'),
            ready,
          });
        }),
      );
      await sleep(500);
    }
  })();

  // The load; each acknowledged send is timed from its first emit, and labelled with the phase it started in.
  const timings: Timing[] = [];
  let phase = 'before';
  const load = pacedSends(pairs, options.perUserRate, (sent, started) => {
    const [at, startedIn] = [Date.now(), phase];
    sent.then(
      () => timings.push({ at, ms: performance.now() - started, phase: startedIn }),
      () => undefined,
    );
  });
  cleanup.add(() => load.stop());

  return {
    sql,
    redis,
    graph,
    connections,
    instances,
    pairs,
    clients,
    probes,
    timings,
    cleanup,
    connectPair,
    setPhase(name: string) {
      phase = name;
    },
    /** Ack times of the sends started in that phase. */
    ackTimes(name: string) {
      return distribution(timings.filter((timing) => timing.phase === name).map((timing) => timing.ms));
    },
    /** Time until a message sent now from one instance reaches the other one's socket. */
    async crossInstanceDelivery(sinceMs: number, timeoutMs = 15_000): Promise<number> {
      const { conversationId, a, b } = pairs[0]!;
      return pollUntil(
        'cross-instance delivery',
        async () => {
          const message = await a.send(conversationId, 'probe');
          await sleep(50);
          return b.received.has(message.messageId) ? Date.now() - sinceMs : undefined;
        },
        timeoutMs,
        0,
      );
    },
    async stopLoad(): Promise<void> {
      await load.stop();
      for (const client of clients) await client.settled();
      probing = false;
      await prober;
    },
    /**
     * Nothing acknowledged is missing: every ack is a row, and after a last message from each side
     * every participant holds its conversation's messages 1..n, live, through catch-up, or from history.
     */
    async verifyNothingLost(): Promise<{ acked: number; lost: number; filledFromHistory: number }> {
      for (const pair of pairs) await Promise.all([pair.a.send(pair.conversationId, 'fence'), pair.b.send(pair.conversationId, 'fence')]);
      const acked: Message[] = clients.flatMap((client) => [...client.acked.values()]);
      const rows = await sql.query<{ id: string; seq: number }>('SELECT id::text, seq FROM message WHERE id = ANY($1::uuid[])', [acked.map((m) => m.messageId)]);
      const stored = new Map(rows.rows.map((row) => [row.id, row.seq]));
      const lost = acked.filter((message) => stored.get(message.messageId) !== message.seq).length;
      expect(lost).toBe(0);
      let filledFromHistory = 0;
      for (const pair of pairs) {
        const highest = Math.max(...acked.filter((m) => m.conversationId === pair.conversationId).map((m) => m.seq));
        for (const client of [pair.a, pair.b]) {
          await pollUntil('the fence', () => (client.known(pair.conversationId).has(highest) ? true : undefined), 10_000);
          filledFromHistory += await client.fillGaps(pair.conversationId);
          expect([...client.known(pair.conversationId).keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: highest }, (_, index) => index + 1));
        }
      }
      return { acked: acked.length, lost, filledFromHistory };
    },
  };
}
