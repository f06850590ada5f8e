import pg from 'pg';
import { expect } from 'vitest';
import type { CarefulClient } from '../careful-client.js';
import { testCleanup } from '../cleanup.js';
import { connectCarefulPair, type Pair } from './cluster-parts.js';
import { pacedSends } from './paced-load.js';
import { distribution, prefixed, report, sleep } from '../figures.js';
import { pollUntil } from '../processes.js';
import { startPrivatePostgres } from '../private-postgres.js';
import { startTestApp } from '../test-app.js';

export interface PostgresStopOptions {
  label: string;
  outageMs: number;
  pairs: number;
  perUserRate: number;
}

/**
 * PostgreSQL stopped in immediate mode (a crash: no checkpoint, crash recovery at the next start)
 * under load, then started again, the service running throughout. No ack without a commit: every
 * acknowledged message is there after recovery. During the outage every send is refused with
 * UNAVAILABLE, quickly, nothing else; readiness says the database is down. Sends succeed again
 * within 5 s of PostgreSQL accepting connections, without restarting the service.
 */
const debug = (what: string) => process.env.SCENARIO_DEBUG && console.log(new Date().toISOString(), what);

export async function postgresStop(options: PostgresStopOptions): Promise<void> {
  const cleanup = testCleanup();
  const postgres = await startPrivatePostgres();
  cleanup.add(() => postgres.close());
  // The rate limit is out of the way: a backlog of retries must meet UNAVAILABLE, not RESOURCE_EXHAUSTED.
  const app = await startTestApp({ DATABASE_URL: postgres.url, RATE_LIMIT_MESSAGES_PER_SECOND: '100000', CONNECTIONS_TIMEOUT_MS: '1500' });
  cleanup.add(() => app.close());
  const clients: CarefulClient[] = [];
  cleanup.add(() => clients.forEach((client) => client.close()));
  try {
    const pairs: Pair[] = [];
    const side = { url: app.server.httpUrl, ackTimeoutMs: 5000 };
    for (let index = 0; index < options.pairs; index++) pairs.push(await connectCarefulPair(app.graph, clients, { a: side, b: side }, (user) => app.token(user)));
    const readiness: Array<{ at: number; status: number }> = [];
    let loading = true;
    const poller = (async () => {
      while (loading) {
        const status = await fetch(`${app.server.httpUrl}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (response) => response.status,
          () => 0,
        );
        readiness.push({ at: Date.now(), status });
        await sleep(200);
      }
    })();
    const load = pacedSends(pairs, options.perUserRate);

    await sleep(2000);
    debug('stopping');
    const stoppedAt = Date.now();
    await postgres.stopImmediate();
    const goneAt = Date.now();
    debug('gone');
    await sleep(options.outageMs);
    await postgres.start();
    const backAt = Date.now();
    debug('back');
    // Recovered: every client has had a send acknowledged since PostgreSQL came back.
    const recoveredMs = await pollUntil(
      'every client to send again',
      () => (clients.every((client) => client.attemptLog.some((entry) => entry.outcome === 'ok' && entry.at >= backAt)) ? Date.now() - backAt : undefined),
      20_000,
      20,
    );
    const firstOk = Math.min(...clients.flatMap((client) => client.attemptLog.filter((entry) => entry.outcome === 'ok' && entry.at >= backAt).map((entry) => entry.at + entry.ms))) - backAt;
    debug('recovered');
    await sleep(1000);
    loading = false;
    await load.stop();
    await poller;
    for (const client of clients) await client.settled();

    debug('settled');
    // No ack without a commit: each acknowledged message is in the recovered database, once.
    const sql = new pg.Pool({ connectionString: postgres.url, max: 1 });
    cleanup.add(() => sql.end());
    const acked = clients.flatMap((client) => [...client.acked.values()]);
    const rows = await sql.query<{ id: string; seq: number }>('SELECT id::text, seq FROM message WHERE id = ANY($1::uuid[])', [acked.map((m) => m.messageId)]);
    const stored = new Map(rows.rows.map((row) => [row.id, row.seq]));
    const lost = acked.filter((message) => stored.get(message.messageId) !== message.seq);
    const duplicates = await sql.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT 1 FROM message GROUP BY sender_id, client_message_id HAVING count(*) > 1) d',
    );
    const total = await sql.query<{ n: number; gaps: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE seq <> rn)::int AS gaps
       FROM (SELECT seq, row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS rn FROM message) m`,
    );
    expect(lost).toEqual([]);
    expect(duplicates.rows[0]!.n).toBe(0);
    expect(total.rows[0]!.gaps).toBe(0);

    // During the outage: UNAVAILABLE, promptly, and nothing else.
    const attempts = clients.flatMap((client) => client.attemptLog);
    const duringOutage = attempts.filter((entry) => entry.at >= goneAt && entry.at + entry.ms < backAt);
    const outcomes = Object.fromEntries([...new Set(duringOutage.map((entry) => entry.outcome))].map((outcome) => [outcome, duringOutage.filter((entry) => entry.outcome === outcome).length]));
    const refusal = distribution(duringOutage.map((entry) => entry.ms));
    const unreadyDuring = readiness.filter((entry) => entry.at > goneAt + 1500 && entry.at < backAt);
    debug('checked');
    report(`PostgreSQL stopped in immediate mode (${options.label})`, {
      outage_ms: backAt - goneAt,
      rate_msg_per_s: 2 * options.pairs * options.perUserRate,
      stop_took_ms: goneAt - stoppedAt,
      acked: acked.length,
      acked_and_missing_after_recovery: lost.length,
      stored_rows: total.rows[0]!.n,
      stored_without_ack: total.rows[0]!.n - acked.length,
      duplicate_rows: duplicates.rows[0]!.n,
      attempts_during_outage: duringOutage.length,
      outcomes_during_outage: JSON.stringify(outcomes),
      ...prefixed('refusal_ms', { p50: refusal.p50, p99: refusal.p99, max: refusal.max }),
      readiness_503_during_outage: `${unreadyDuring.filter((entry) => entry.status === 503).length}/${unreadyDuring.length}`,
      first_ack_after_return_ms: firstOk,
      all_clients_recovered_after_ms: recoveredMs,
    });
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(Object.keys(outcomes)).toEqual(['UNAVAILABLE']);
    // Refused before the careful client's 5 s ack timeout gives up on them. Over a long outage the
    // clients' retries queue behind each conversation's send order, so refusals slow down (the chaos
    // run's 15 s outage: p50 1.4 s, p99 3.4 s; 5 s outage: p99 ~80 ms; docs/reliability.md).
    expect(refusal.p99).toBeLessThan(5000);
    expect(unreadyDuring.length).toBeGreaterThan(0);
    expect(unreadyDuring.every((entry) => entry.status === 503)).toBe(true);
    expect(recoveredMs).toBeLessThan(5000);
    // The clients retried until acknowledged, so the rows are exactly the acknowledged messages: one
    // committed while its answer was lost in the crash is found again by its retry, not stored twice.
    expect(total.rows[0]!.n).toBe(acked.length);
  } finally {
    await cleanup.run();
  }
}
