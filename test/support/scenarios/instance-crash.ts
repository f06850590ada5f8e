import pg from 'pg';
import { expect, inject } from 'vitest';
import { LoadBalancer, type CarefulClient } from '../careful-client.js';
import { distribution, prefixed, report, sleep } from '../figures.js';
import { pollUntil } from '../processes.js';
import { spawnService, type ReadyService } from '../service-process.js';
import { testCleanup } from '../cleanup.js';
import { connectCarefulPair, startClusterParts, type Pair } from './cluster-parts.js';
import { pacedSends } from './paced-load.js';

export interface InstanceCrashOptions {
  /** Conversations; both participants send, so 2 × pairs × perUserRate messages per second. */
  pairs: number;
  perUserRate: number;
  beforeKillMs: number;
  afterKillMs: number;
  /** Kill, wait, start a fresh instance, and kill again, this many times (1: one kill, no restart). */
  kills: number;
  label: string;
}

/**
 * CONTRACT §3.3 through an instance crash: two real processes (`node dist/main.js`) on one
 * database and one Redis of the test's own, careful clients spread over both behind a balancer,
 * SIGKILL to one instance under load. Every acknowledged message must be in the database exactly
 * once (database count = acks), clients must reconnect to the survivor, and every recipient must
 * end up with every message of its conversation exactly once after dedup by messageId, with no seq
 * gap: live, through catch-up on reconnection, or (for a message committed by the dead instance
 * before it could broadcast it, whose retry is answered from the database without a broadcast, as
 * CONTRACT §3.1 says) from history once a later seq shows the gap.
 */
export async function instanceCrash(options: InstanceCrashOptions): Promise<void> {
  const cleanup = testCleanup();
  const sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
  cleanup.add(() => sql.end());
  const { graph, env } = await startClusterParts(cleanup, { SHUTDOWN_GRACE_MS: '0' });
  const instances: ReadyService[] = await Promise.all([spawnService(env), spawnService(env)]);
  const spawned = [...instances];
  cleanup.add(async () => {
    for (const instance of spawned) instance.kill('SIGKILL');
    await Promise.all(spawned.map((instance) => instance.exited));
  });
  const balancer = new LoadBalancer(instances.map((instance) => instance.httpUrl)).start();
  cleanup.add(() => balancer.stop());
  const clients: CarefulClient[] = [];
  cleanup.add(() => clients.forEach((client) => client.close()));
  try {
    const pairs: Pair[] = [];
    for (let index = 0; index < options.pairs; index++) {
      // Half the pairs on one instance each side, half across both.
      const sides = { a: { url: instances[index % 2]!.httpUrl, balancer }, b: { url: instances[Math.floor(index / 2) % 2]!.httpUrl, balancer } };
      pairs.push(await connectCarefulPair(graph, clients, sides));
    }

    // The load: every user sends perUserRate messages a second, spread evenly.
    const load = pacedSends(pairs, options.perUserRate);

    const kills: Array<{ at: number; index: number }> = [];
    await sleep(options.beforeKillMs);
    for (let round = 0; round < options.kills; round++) {
      const index = round % 2;
      const victim = instances[index]!;
      const killedAt = Date.now();
      victim.kill('SIGKILL');
      await victim.exited;
      kills.push({ at: killedAt, index });
      await sleep(options.afterKillMs);
      if (round < options.kills - 1) {
        // A fresh instance takes the dead one's place behind the balancer.
        const replacement = await spawnService(env);
        spawned.push(replacement);
        instances[index] = replacement;
        balancer.urls[index] = replacement.httpUrl;
        await sleep(options.beforeKillMs);
      }
    }
    await load.stop();
    for (const client of clients) await client.settled();

    // A last message from each side, so that a gap at the end shows, then what every recipient has.
    for (const { conversationId, a, b } of pairs) await Promise.all([a.send(conversationId, 'fence'), b.send(conversationId, 'fence')]);
    const expected = new Map<string, number>(); // conversationId → highest seq
    for (const { conversationId, a, b } of pairs) {
      expected.set(conversationId, Math.max(...[...a.acked.values(), ...b.acked.values()].filter((m) => m.conversationId === conversationId).map((m) => m.seq)));
    }
    await pollUntil(
      'the fences to arrive',
      () => (pairs.every(({ conversationId, a, b }) => [a, b].every((client) => client.known(conversationId).has(expected.get(conversationId)!))) ? true : undefined),
      15_000,
      50,
    );
    const viaLiveOrCatchUp = clients.reduce((sum, client) => sum + client.received.size, 0);
    let viaHistory = 0;
    for (const { conversationId, a, b } of pairs) for (const client of [a, b]) viaHistory += await client.fillGaps(conversationId);

    // The database holds exactly the acknowledged messages, once each, with seq 1..n.
    const conversationIds = pairs.map((pair) => pair.conversationId);
    const acked = clients.flatMap((client) => [...client.acked.values()]);
    const rows = await sql.query<{ id: string; conversation_id: string; seq: number; client_message_id: string }>(
      'SELECT id::text, conversation_id::text, seq, client_message_id FROM message WHERE conversation_id = ANY($1::uuid[]) ORDER BY conversation_id, seq',
      [conversationIds],
    );
    const duplicates = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM message WHERE conversation_id = ANY($1::uuid[])
       GROUP BY sender_id, client_message_id HAVING count(*) > 1) d`,
      [conversationIds],
    );
    const stored = new Map(rows.rows.map((row) => [row.id, row]));
    const lost = acked.filter((message) => stored.get(message.messageId)?.seq !== message.seq);
    expect(lost).toEqual([]);
    expect(rows.rowCount).toBe(acked.length);
    expect(duplicates.rows[0]!.n).toBe(0);
    for (const { conversationId } of pairs) {
      const seqs = rows.rows.filter((row) => row.conversation_id === conversationId).map((row) => row.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1));
    }

    // Every participant ends up with every message of its conversation, once, with no gap.
    let incomplete = 0;
    for (const { conversationId, a, b } of pairs) {
      const n = expected.get(conversationId)!;
      for (const client of [a, b]) {
        const known = client.known(conversationId);
        if (known.size !== n) incomplete++;
        expect([...known.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, index) => index + 1));
        for (const [seq, message] of known) expect(stored.get(message.messageId)?.seq).toBe(seq);
      }
    }
    expect(incomplete).toBe(0);

    // Reconnection: every socket of a killed instance came back, on a live one.
    const reconnectMs: number[] = [];
    for (const { at } of kills) {
      for (const client of clients) {
        const dropped = client.disconnects.find((entry) => entry.at >= at && entry.at < at + 2000);
        if (!dropped) continue;
        const back = client.connects.find((entry) => entry.at >= dropped.at);
        expect(back, `${client.userId} reconnected`).toBeDefined();
        reconnectMs.push(back!.at - at);
      }
    }
    expect(reconnectMs.length).toBeGreaterThanOrEqual(options.pairs); // half the sockets, at least, per kill
    const reconnect = distribution(reconnectMs);
    expect(reconnect.p95).toBeLessThanOrEqual(5000);
    const latencies = distribution(clients.flatMap((client) => client.sendLatencies));
    const attempts = clients.reduce((sum, client) => sum + client.attempts, 0);
    report(`instance crash (${options.label})`, {
      rate_msg_per_s: 2 * options.pairs * options.perUserRate,
      kills: kills.length,
      acked: acked.length,
      stored: rows.rowCount ?? 0,
      lost: lost.length,
      duplicate_rows: duplicates.rows[0]!.n,
      send_attempts: attempts,
      retried_sends: attempts - acked.length,
      reconnected_sockets: reconnectMs.length,
      ...prefixed('reconnect_ms', { p50: reconnect.p50, p95: reconnect.p95, max: reconnect.max }),
      ...prefixed('ack_ms', { p50: latencies.p50, p99: latencies.p99, max: latencies.max }),
      received_live_or_catch_up: viaLiveOrCatchUp,
      duplicate_deliveries_deduped: clients.reduce((sum, client) => sum + client.duplicates, 0),
      filled_from_history: viaHistory,
      incomplete_recipients: incomplete,
    });
  } finally {
    await cleanup.run();
  }
}
