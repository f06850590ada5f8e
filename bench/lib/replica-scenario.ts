// The read-replica scenario of `npm run bench` (--only=replica): history pages and conversation
// lists over gRPC, from a service without DATABASE_READ_URL (A) and one with it (B), on a private
// primary and its streaming replica (bench/lib/replicated-postgres.ts) seeded like the history
// scenario. Steps of A and B alternate (ABBA...), since the machine is shared and its load drifts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type * as Cursor from '../../src/contract/cursor.js';
import type { GeneratorPool } from './pool.js';
import type { Counts, Plan } from './results.js';
import { databaseUrl, ensureHistoryDatabase, HISTORY_CONVERSATION_ID, HISTORY_USERS, LIST_OWNER, listOrder, SEED } from './db.js';
import { startReplicatedPostgres } from './replicated-postgres.js';
import { fromBuild, machineCpu, readCpuSeconds, ROOT, type ServiceProcess, startService } from './service.js';
import { concat, type LatencySummary, round, summarize } from './stats.js';
import { signToken } from './tokens.js';

const DATABASE = 'messaging_bench_history';

type ReplicaPlan = Plan['replica'];
type Read = 'history' | 'list';
type Variant = 'A' | 'B' | 'warm-up';

export interface ReplicaRun {
  variant: Variant;
  read: Read;
  inFlight: number;
  writesPerSec: number | null;
  queriesPerSec: number;
  latency: LatencySummary;
  errors: Counts;
  cpu: { machineBusyCores: number | null; primaryCores: number | null; replicaCores: number | null; serviceCores: number | null };
  replicaShare: number | null;
  fallbacks: { behind: number; unavailable: number };
  positionQueriesPerRead: number | null;
  primaryCpuMicrosPerRead?: number | null;
}

export interface ReplicaSummaryRow {
  key: string;
  rounds: number;
  queriesPerSec: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  primaryCores: number | null;
  replicaCores: number | null;
  serviceCores: number | null;
  primaryCpuMicrosPerRead: number | null;
  replicaShare: number | null;
  writesPerSec: number | null;
}

export interface ReplicaResults {
  seededMessages: number;
  plan: ReplicaPlan;
  steps: ReplicaRun[];
  summary: ReplicaSummaryRow[];
}

type Counters = ReturnType<typeof readCounters>;

/** CPU seconds of a postmaster and each of its children (backends, WAL sender or receiver, startup process), by pid. */
function clusterCpu(postmasterPid: number): Map<number, number> {
  const byPid = new Map([[postmasterPid, readCpuSeconds(postmasterPid) ?? 0]]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmasterPid) byPid.set(Number(entry), readCpuSeconds(Number(entry)) ?? 0);
    } catch {
      // gone
    }
  }
  return byPid;
}

/**
 * CPU seconds a cluster spent between two clusterCpu readings: per process, so that a backend that
 * exits meanwhile (an idle pool connection closing) does not make the sum go down; one that exits
 * during the step loses its share (the services' pools keep their connections for 30 s).
 */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, seconds] of after) sum += seconds - (before.get(pid) ?? 0);
  return sum;
}

/** Counters of messaging_reads_total, the fallbacks and the position queries, from /metrics. */
function readCounters(metrics: Record<string, number>) {
  const pick = (prefix: string) => Object.entries(metrics).filter(([key]) => key.startsWith(prefix));
  const sum = (prefix: string, label?: string) => pick(prefix).filter(([key]) => !label || key.includes(label)).reduce((s, [, v]) => s + v, 0);
  return {
    replica: sum('messaging_reads_total{', 'target="replica"'),
    primary: sum('messaging_reads_total{', 'target="primary"'),
    behind: sum('messaging_replica_fallbacks_total{', 'reason="behind"'),
    unavailable: sum('messaging_replica_fallbacks_total{', 'reason="error"') + sum('messaging_replica_fallbacks_total{', 'reason="down"'),
    positionQueries: sum('messaging_replica_primary_position_queries_total'),
  };
}

/**
 * A steady write load on the primary (`rate` single-row commits a second into a table of its own):
 * WAL for the replica to replay while B reads, so that its reads meet a replica a few records
 * behind, as they would beside live sends.
 */
function startWriter(url: string, rate: number): { stop(): Promise<number> } {
  const client = new pg.Client({ connectionString: url });
  let stopped = false;
  let commits = 0;
  const done = (async () => {
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS bench_wal_noise (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), pad text)');
    const started = performance.now();
    while (!stopped) {
      await client.query("INSERT INTO bench_wal_noise (pad) VALUES (repeat('x', 200))");
      commits++;
      const ahead = (commits * 1000) / rate - (performance.now() - started);
      if (ahead > 1) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
    await client.end();
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return commits;
    },
  };
}

export async function runReplicaScenario({
  pool,
  log,
  baseEnv,
  jwtSecret,
  plan,
  mulberry32,
}: {
  pool: GeneratorPool;
  log: (text: string) => void;
  baseEnv: Record<string, string>;
  jwtSecret: string;
  plan: ReplicaPlan;
  mulberry32: (seed: number) => () => number;
}): Promise<ReplicaResults> {
  log('read replica (history and lists, without and with DATABASE_READ_URL)');
  const postgres = await startReplicatedPostgres({ sharedBuffers: '256MB' });
  const services: ServiceProcess[] = [];
  try {
    const seeded = await ensureHistoryDatabase(postgres.adminUrl, DATABASE, log);
    log(`  primary seeded: ${seeded.rows.toLocaleString('en')} messages in ${(seeded.seedMs / 1000).toFixed(1)} s`);
    const caughtUpAt = performance.now();
    await postgres.caughtUp();
    log(`  replica caught up ${Math.round(performance.now() - caughtUpAt)} ms later`);
    const primaryUrl = seeded.url;
    const replicaUrl = databaseUrl(postgres.replicaAdminUrl, DATABASE);

    const env = { ...baseEnv, DATABASE_URL: primaryUrl };
    const without = await startService({ name: 'replica-A', env });
    services.push(without);
    const withReplica = await startService({ name: 'replica-B', env: { ...env, DATABASE_READ_URL: replicaUrl } });
    services.push(withReplica);

    const { encodeCursor } = await fromBuild<typeof Cursor>('contract/cursor.js');
    const { pageSize, concurrency, warmupMs, durationMs, rounds, writeRate } = plan;
    const random = mulberry32(7);
    const historyRequests = Array.from({ length: 20_000 }, () => {
      const seq = random() < 0.1 ? undefined : 2 + Math.floor(random() * (SEED.historyMessages - 1));
      return { conversationId: HISTORY_CONVERSATION_ID, pageSize, ...(seq ? { paginationCursor: encodeCursor('h1', [seq]) } : {}) };
    });
    const order = await listOrder(primaryUrl);
    const listRequests = Array.from({ length: 20_000 }, () => {
      const i = random() < 0.1 ? -1 : Math.floor(random() * (order.length - 1));
      return { pageSize, ...(i >= 0 ? { cursor: encodeCursor('c1', [order[i].updatedAt, order[i].id]) } : {}) };
    });
    const reads: Record<Read, { method: string; token: string; requests: object[] }> = {
      history: { method: 'getMessageHistory', token: signToken(jwtSecret, HISTORY_USERS[0]), requests: historyRequests },
      list: { method: 'listConversations', token: signToken(jwtSecret, LIST_OWNER), requests: listRequests },
    };
    const protoFile = path.join(ROOT, 'proto/messaging/v1/messaging.proto');

    const step = async (variant: Variant, service: ServiceProcess, read: Read, writes: boolean, inFlight = concurrency): Promise<ReplicaRun> => {
      const perGenerator = Math.ceil(inFlight / Math.min(pool.size, 2));
      const generators = Math.ceil(inFlight / perGenerator);
      const writer = writes ? startWriter(primaryUrl, writeRate) : undefined;
      const metricsBefore = readCounters(await service.metrics());
      const cpuBefore = { at: performance.now(), machine: machineCpu(), primary: clusterCpu(postgres.primaryPid()), replica: clusterCpu(postgres.replicaPid()), service: readCpuSeconds(service.pid) ?? 0 };
      const { method, token, requests } = reads[read];
      const parts = await pool.each('grpcLoad', (g) =>
        g < generators
          ? { address: service.grpcAddress, protoFile, service: 'messaging.v1.MessagingService', method, token, requests: requests.filter((_, i) => i % generators === g), concurrency: perGenerator, warmupMs, durationMs }
          : undefined,
      );
      const wall = (performance.now() - cpuBefore.at) / 1000;
      const cores = (after: number, before: number) => round((after - before) / wall, 2);
      const machine = machineCpu();
      const commits = writer ? await writer.stop() : 0;
      const metricsAfter = readCounters(await service.metrics());
      const windowMs = Math.max(...parts.map((p) => p.windowMs));
      const completed = parts.reduce((s, p) => s + p.completed, 0);
      const errors: Counts = {};
      for (const part of parts) for (const [code, n] of Object.entries(part.errors)) errors[code] = (errors[code] ?? 0) + n;
      const delta = Object.fromEntries(
        (Object.keys(metricsAfter) as (keyof Counters)[]).map((key) => [key, metricsAfter[key] - metricsBefore[key]]),
      ) as Counters;
      const answered = delta.replica + delta.primary;
      const run: ReplicaRun = {
        variant,
        read,
        inFlight,
        writesPerSec: writes ? round(commits / wall, 0) : 0,
        queriesPerSec: Math.round(completed / (windowMs / 1000)),
        latency: summarize(concat(parts.map((p) => p.latencies))),
        errors,
        cpu: {
          machineBusyCores: cores(machine.busy, cpuBefore.machine.busy),
          primaryCores: round(cpuBetween(cpuBefore.primary, clusterCpu(postgres.primaryPid())) / wall, 2),
          replicaCores: round(cpuBetween(cpuBefore.replica, clusterCpu(postgres.replicaPid())) / wall, 2),
          serviceCores: cores(readCpuSeconds(service.pid) ?? 0, cpuBefore.service),
        },
        replicaShare: answered > 0 ? round(delta.replica / answered, 3) : 0,
        fallbacks: { behind: delta.behind, unavailable: delta.unavailable },
        positionQueriesPerRead: answered > 0 ? round(delta.positionQueries / answered, 3) : 0,
      };
      run.primaryCpuMicrosPerRead = run.queriesPerSec > 0 ? Math.round(((run.cpu.primaryCores ?? 0) * 1e6) / run.queriesPerSec) : null;
      log(
        `  ${variant} ${read}${writes ? ` + ${run.writesPerSec} writes/s` : ''}, ${inFlight} in flight: ${run.queriesPerSec} q/s, p50 ${run.latency.p50Ms} p95 ${run.latency.p95Ms} p99 ${run.latency.p99Ms} ms; ` +
          `primary ${run.cpu.primaryCores} cores (${run.primaryCpuMicrosPerRead} µs/read), replica ${run.cpu.replicaCores}, service ${run.cpu.serviceCores}, machine ${run.cpu.machineBusyCores}` +
          (variant === 'B' ? `; replica share ${run.replicaShare}, behind ${delta.behind}, position queries/read ${run.positionQueriesPerRead}` : '') +
          (Object.keys(errors).length ? ` errors ${JSON.stringify(errors)}` : ''),
      );
      return run;
    };

    // Warm both services and both clusters' caches (the seed has just been written) before measuring.
    const bothReads: Read[] = ['history', 'list'];
    for (const read of bothReads) for (const service of [without, withReplica]) await step('warm-up', service, read, false);
    const steps: ReplicaRun[] = [];
    for (let r = 0; r < rounds; r++) {
      const order: [Variant, ServiceProcess][] = r % 2 === 0 ? [['A', without], ['B', withReplica]] : [['B', withReplica], ['A', without]];
      for (const read of bothReads) for (const [variant, service] of order) steps.push(await step(variant, service, read, false));
      for (const [variant, service] of order) steps.push(await step(variant, service, 'history', true));
      // One call at a time: the latency a read adds (the position query, the replay check) without queueing.
      for (const read of bothReads) for (const [variant, service] of order) steps.push(await step(variant, service, read, false, 1));
    }
    return { seededMessages: seeded.rows, plan, steps, summary: summarizeSteps(steps) };
  } finally {
    for (const service of services) await service.stop().catch(() => undefined);
    await postgres.close();
  }
}

/** Per variant and read: the median over rounds of each figure. */
function summarizeSteps(steps: ReplicaRun[]): ReplicaSummaryRow[] {
  const median = (values: (number | null | undefined)[]): number | null => {
    // (A missing figure sorts as 0.)
    const sorted = [...values].sort((a, b) => (a ?? 0) - (b ?? 0));
    return sorted.length ? (sorted[Math.floor((sorted.length - 1) / 2)] ?? null) : null;
  };
  const groups = new Map<string, ReplicaRun[]>();
  for (const step of steps) {
    const key = `${step.read}${step.writesPerSec ? '+writes' : ''}${step.inFlight === 1 ? ', 1 in flight' : ''}/${step.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), step]);
  }
  return [...groups].map(([key, runs]) => ({
    key,
    rounds: runs.length,
    queriesPerSec: median(runs.map((r) => r.queriesPerSec)),
    p50Ms: median(runs.map((r) => r.latency.p50Ms)),
    p95Ms: median(runs.map((r) => r.latency.p95Ms)),
    p99Ms: median(runs.map((r) => r.latency.p99Ms)),
    primaryCores: median(runs.map((r) => r.cpu.primaryCores)),
    replicaCores: median(runs.map((r) => r.cpu.replicaCores)),
    serviceCores: median(runs.map((r) => r.cpu.serviceCores)),
    primaryCpuMicrosPerRead: median(runs.map((r) => r.primaryCpuMicrosPerRead)),
    replicaShare: median(runs.map((r) => r.replicaShare)),
    writesPerSec: median(runs.map((r) => r.writesPerSec)),
  }));
}

/** The scenario's section of the results markdown. */
export function renderReplica(replica: ReplicaResults): string {
  const rows = replica.summary.map((s) =>
    `| ${s.key} | ${s.queriesPerSec} | ${s.p50Ms} / ${s.p95Ms} / ${s.p99Ms} | ${s.primaryCores} | ${s.primaryCpuMicrosPerRead} | ${s.replicaCores} | ${s.serviceCores} | ${s.key.endsWith('/A') ? '–' : s.replicaShare} |`,
  );
  return [
    '',
    `#### Read replica (gRPC, ${replica.plan.concurrency} calls in flight unless said, pages of ${replica.plan.pageSize}; medians of ${replica.plan.rounds} interleaved rounds; A: no DATABASE_READ_URL, B: with it)`,
    '',
    '| read / variant | q/s | p50 / p95 / p99 ms | primary cores | primary µs/read | replica cores | service cores | replica share |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
