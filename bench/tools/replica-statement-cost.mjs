#!/usr/bin/env node
// Server CPU per statement of the read-replica path, one backend at a time (no pool, no service):
// the primary's WAL-position query, the replica's replay check, and the history and list pages on
// each server. Measured from the backend process's own CPU time (/proc/<pg_backend_pid()>/stat),
// so other load on the machine moves wall time, not these figures. Needs `npm run build` (the
// statements are the repositories' own) and the machine's PostgreSQL binaries.
//   node bench/tools/replica-statement-cost.mjs [calls]
import path from 'node:path';
import pg from 'pg';
import { databaseUrl, ensureHistoryDatabase, HISTORY_CONVERSATION_ID, LIST_OWNER, SEED } from '../lib/db.mjs';
import { startReplicatedPostgres } from '../lib/replicated-postgres.mjs';
import { readCpuSeconds, ROOT } from '../lib/service.mjs';

const CALLS = Number(process.argv[2] ?? 5000);
const { HISTORY_BEFORE } = await import(path.join(ROOT, 'dist/messages/messages.repository.js'));
const { LIST_FOR_USER, listParameters } = await import(path.join(ROOT, 'dist/conversations/conversations.repository.js'));
const { PRIMARY_POSITION, REPLAYED } = await import(path.join(ROOT, 'dist/infrastructure/prisma/read-sql.js'));

const log = (line) => process.stderr.write(`${line}\n`);
const postgres = await startReplicatedPostgres({ sharedBuffers: '256MB' });
try {
  const seeded = await ensureHistoryDatabase(postgres.adminUrl, 'messaging_bench_history', log);
  await postgres.caughtUp();
  const replicaUrl = databaseUrl(postgres.replicaAdminUrl, 'messaging_bench_history');
  const connect = async (url) => {
    const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
    await client.connect();
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    return { client, pid: rows[0].pid };
  };
  const primary = await connect(seeded.url);
  const replica = await connect(replicaUrl);
  const { rows } = await primary.client.query('SELECT pg_current_wal_flush_lsn()::text AS lsn');
  const lsn = rows[0].lsn;

  let seed = 1;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const statements = {
    position: { ...PRIMARY_POSITION, values: () => [] },
    replayCheck: { ...REPLAYED, values: () => [lsn] },
    historyPage: { ...HISTORY_BEFORE, values: () => [HISTORY_CONVERSATION_ID, 2 + Math.floor(random() * (SEED.historyMessages - 1)), 50] },
    listPage: { ...LIST_FOR_USER, values: () => listParameters(LIST_OWNER, undefined, 51) },
  };
  const measure = async ({ client, pid }, statement) => {
    for (let i = 0; i < 200; i++) await client.query({ name: statement.name, text: statement.text, values: statement.values(), rowMode: 'array' });
    const before = readCpuSeconds(pid);
    const started = performance.now();
    for (let i = 0; i < CALLS; i++) await client.query({ name: statement.name, text: statement.text, values: statement.values(), rowMode: 'array' });
    return { backendMicrosPerCall: Math.round(((readCpuSeconds(pid) - before) * 1e6) / CALLS), wallMicrosPerCall: Math.round(((performance.now() - started) * 1000) / CALLS) };
  };
  const results = {
    'primary: WAL position': await measure(primary, statements.position),
    'replica: replay check': await measure(replica, statements.replayCheck),
    'primary: history page of 50': await measure(primary, statements.historyPage),
    'replica: history page of 50': await measure(replica, statements.historyPage),
    'primary: first list page of 50': await measure(primary, statements.listPage),
    'replica: first list page of 50': await measure(replica, statements.listPage),
  };
  console.table(results);
  await primary.client.end();
  await replica.client.end();
} finally {
  await postgres.close();
}
