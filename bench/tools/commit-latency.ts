// What one durable send costs PostgreSQL in wall-clock time, piece by piece, at a low rate (one
// statement at a time, GAP_MS apart, so each commit flushes the WAL on its own as at 100 msg/s):
//
//   - `SELECT 1`: a loopback round trip through `pg` (named prepared statement);
//   - the service's own send statement (`MessagesRepository.insertBatch` of dist/, one message) inside
//     BEGIN … ROLLBACK: its execution without the commit's WAL flush;
//   - the same statement on its own (autocommit, as the service runs it): execution + commit;
//   - a one-row INSERT into a scratch table, autocommit: the bare commit (WAL write + fdatasync);
//   - the same INSERT with `synchronous_commit = off` for this probe's session only (never the
//     service's): what is left when the flush is not waited for.
//
// Runs on a scratch database (DB, default messaging_commit_probe), dropped at the end.
//
//   npm run -s build:bench && N=300 GAP_MS=10 node bench/dist/tools/commit-latency.js
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { uuidv7 } from 'uuidv7';
import type * as Migrator from '../../src/infrastructure/prisma/migrator.js';
import type * as Messages from '../../src/messages/messages.repository.js';
import type { HotSql } from '../../src/infrastructure/prisma/hot-sql.js';
import type { ReadSql } from '../../src/infrastructure/prisma/read-sql.js';
import type { AppConfig } from '../../src/config/config.js';
import { databaseUrl, recreateDatabase } from '../lib/db.js';
import { fromBuild } from '../lib/service.js';
import { summarize } from '../lib/stats.js';

const ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DB = process.env.DB ?? 'messaging_commit_probe';
const N = Number(process.env.N ?? 300);
const GAP_MS = Number(process.env.GAP_MS ?? 10);
const TEXT = 'Benchmark message: the quick brown fox jumps over the lazy dog. 0123456789';

const { migrate, defaultMigrationsDir } = await fromBuild<typeof Migrator>('infrastructure/prisma/migrator.js');
const { MessagesRepository } = await fromBuild<typeof Messages>('messages/messages.repository.js');

await recreateDatabase(ADMIN, DB);
const url = databaseUrl(ADMIN, DB);
await migrate(url, defaultMigrationsDir());
const client = new pg.Client({ connectionString: url });
await client.connect();
const rows = (statement: { name: string; text: string }, values: unknown[]) => client.query({ name: statement.name, text: statement.text, values, rowMode: 'array' }).then((r) => r.rows);
// The repository needs only the driver's `rows` for a send, and no events.
const repository = new MessagesRepository({ rows } as unknown as HotSql, undefined as unknown as ReadSql, { eventBusUrl: undefined } as AppConfig);

const conversationId = uuidv7();
await client.query(`INSERT INTO conversation (id, user_a, user_b) VALUES ($1, 'probe-a', 'probe-b')`, [conversationId]);
await client.query('CREATE TABLE scratch (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
const message = () => ({ id: uuidv7(), conversationId, senderId: 'probe-a', recipientId: 'probe-b', recipientIsUserA: false, text: TEXT, clientMessageId: uuidv7() });

const probes: Record<string, () => Promise<unknown>> = {
  'SELECT 1 round trip': () => client.query({ name: 'one', text: 'SELECT 1' }),
  'send statement, no commit (BEGIN … ROLLBACK, statement only)': async () => {
    await client.query('BEGIN');
    const t0 = performance.now();
    await repository.insertBatch([message()]);
    const ms = performance.now() - t0;
    await client.query('ROLLBACK');
    return ms;
  },
  'send statement, autocommit (as the service)': () => repository.insertBatch([message()]),
  'one-row INSERT, autocommit (bare commit)': () => client.query({ name: 'scratch', text: 'INSERT INTO scratch DEFAULT VALUES' }),
  'one-row INSERT, synchronous_commit off (this session only)': async () => {
    await client.query('SET synchronous_commit = off');
    const t0 = performance.now();
    await client.query({ name: 'scratch', text: 'INSERT INTO scratch DEFAULT VALUES' });
    const ms = performance.now() - t0;
    await client.query('SET synchronous_commit = on');
    return ms;
  },
};

const results: Record<string, number[]> = {};
for (const name of Object.keys(probes)) results[name] = [];
// Interleaved, so that a change of the machine's load hits every probe alike.
for (let i = 0; i < N + 20; i++) {
  for (const [name, probe] of Object.entries(probes)) {
    const t0 = performance.now();
    const inner = await probe();
    const ms = typeof inner === 'number' ? inner : performance.now() - t0;
    if (i >= 20) results[name]!.push(ms);
    await sleep(GAP_MS);
  }
}
await client.end();
const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await admin.end();

console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${N} of each, ${GAP_MS} ms apart, interleaved`);
for (const [name, samples] of Object.entries(results)) {
  const s = summarize(Float64Array.from(samples));
  console.log(`${name.padEnd(64)} p50 ${(s.p50Ms ?? NaN).toFixed(3)}  p95 ${(s.p95Ms ?? NaN).toFixed(3)}  p99 ${(s.p99Ms ?? NaN).toFixed(3)} ms`);
}
