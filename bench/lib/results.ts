// The shape of a run's results (bench/run.ts fills it in; bench/lib/report.ts renders it), and the
// summary at the top of each bench/results/*.json that docs/performance.md and the issues cite
// (`throughput.ratioW4`, `history.freshTable`, ...).
import type { ProfileSummary } from './profile.js';
import type { ReplicaResults } from './replica-scenario.js';
import { round, type LatencySummary } from './stats.js';

export type Counts = Record<string, number>;

interface Step {
  warmupMs: number;
  durationMs: number;
}

export interface ClosedLoopSpec extends Step {
  pairs: number;
  inflight: number;
}

export interface RateSpec extends Step {
  rate: number;
  pairs: number;
}

export interface QueryPlan extends Step {
  concurrency: number;
  pageSize: number;
}

export interface Plan {
  mode: 'quick' | 'full';
  generators: number;
  warmupMs: number;
  maxAttempts: number;
  retryBudgetMs: number;
  pairs: number;
  relayPairs: number;
  throughput: Step & { variants: { pairs: number; inflight: number }[] };
  sweep: Step & { fractions: number[] };
  latencyAt: RateSpec;
  lowRate: RateSpec;
  history: QueryPlan;
  sockets: { count: number; generators: number };
  redis: ClosedLoopSpec;
  events: ClosedLoopSpec & { rounds: number };
  replica: QueryPlan & { rounds: number; writeRate: number };
  cluster: Step & { instances: number[]; rounds: number; pairs: number; inflight: number };
}

/**
 * Cores busy on average over a step: the machine, the bench databases' PostgreSQL backends, each
 * process group measured (`serviceCores`, `relayCores`, `generatorsCores`, `natsCores`,
 * `redisCores`), the busiest server main thread, and `otherCores`, the work outside the bench.
 */
export interface CpuSplit {
  machineBusyCores: number | null;
  postgresCores: number | null;
  otherCores?: number | null;
  serverMainThreadCores?: number | null;
  [group: `${string}Cores`]: number | null | undefined;
}

/** Set on a step that leastDisturbed() may have measured more than once. */
interface Attempts {
  attempts?: number;
  outsideCoresPerAttempt?: (number | null | undefined)[];
}

/** A load step (closed or open loop), merged over the generators. */
export interface LoadRun extends Attempts {
  msgPerSec: number;
  completed: number;
  windowMs: number;
  latency: LatencySummary;
  ack: LatencySummary;
  errors: Counts;
  timeouts: number;
  leftPending: number;
  offered: number | undefined;
  skipped: number;
  cpu: CpuSplit;
  serverCpuMicrosPerMessage: number | null;
}

export interface ClosedLoopRun extends LoadRun {
  pairs: number;
  inflight: number;
}

export interface OpenLoopRun extends LoadRun {
  rate: number;
  pairs: number;
}

export interface SweepStep extends OpenLoopRun {
  pass: boolean;
}

export interface EventsRun extends ClosedLoopRun {
  postgresCpuMicrosPerMessage: number | null;
  natsCpuMicrosPerMessage: number | null;
  outboxBacklogAfter?: number | null;
  outboxOldestAgeSecondsAfter?: number | null;
  outboxDrainMs?: number;
  sustainedMsgPerSec?: number;
}

export interface ClusterRun extends ClosedLoopRun {
  instances: number;
  adapter: 'single' | 'sharded';
  round: number;
}

/** A query step (gRPC or SQL through pg), merged over the generators. */
export interface QueryRun extends Attempts {
  concurrency: number;
  queriesPerSec: number;
  completed: number;
  rowsPerPage: number | null;
  latency: LatencySummary;
  errors: Counts;
  cpu: CpuSplit;
  serverCpuMicrosPerQuery?: number;
}

export interface SocketsInstance {
  sockets: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  rssKiBPerSocket: number | null;
  heapKiBPerSocket: number | null;
  externalKiBPerSocket?: number | null;
}

export interface Meta {
  date: string;
  mode: Plan['mode'];
  machine: { cpuModel: string | undefined; cores: number; memoryGiB: number | null; kernel: string; loadAverageAtStart: (number | null)[] };
  node: string;
  postgres: string;
  redis: string | null;
  git: { commit: string | null; dirty: boolean };
  dependencies: Record<string, string | null>;
  settings: {
    generators: number;
    databasePoolSize: number;
    rateLimitMessagesPerSecond: number;
    redisUrl: string;
    serviceNodeArgs: string | undefined;
    loadDatabase: string;
    historyDatabase: string;
  };
  interference?: { steps: number; repeatedSteps: number; meanOtherCores: number | null; maxOtherCores: number } | null;
  durationSeconds?: number | null;
}

export interface ClusterSummaryRow {
  instances: number;
  adapter: 'single' | 'sharded';
  rounds: number;
  msgPerSec: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  serviceCpuMicrosPerMessage: number | null;
  redisCpuMicrosPerMessage: number | null;
  otherCores: number | null | undefined;
  msgPerSecPerRound: number[];
  otherCoresPerRound: (number | null | undefined)[];
}

export interface Results {
  meta: Meta;
  plan: Plan;
  relay?: { variants: ClosedLoopRun[]; lowRate?: OpenLoopRun; latencyAt?: OpenLoopRun };
  lowRate?: OpenLoopRun;
  latencyAt?: OpenLoopRun;
  throughput?: { variants: ClosedLoopRun[] };
  profile?: { file: string; messagesInWindows: number } & ProfileSummary;
  sweep?: { basis: number; steps: SweepStep[]; maxRateP99Within50?: number; maxOfferedP99Within50?: number; p99AtMax?: number | null };
  singleInstanceRssKiB?: number | null;
  history?: {
    rows: number;
    conversationMessages: number;
    pageSize: number;
    grpc: QueryRun;
    rawSql: QueryRun;
    /** The statements the raw-SQL baseline ran: the repository's own (HISTORY_LATEST, HISTORY_BEFORE). */
    sql: string[];
    freshTable?: { conversationMessages: number; grpc: QueryRun; rawSql: QueryRun };
  };
  list?: { conversations: number; pageSize: number; grpc: QueryRun; rawSql: QueryRun; sql: string };
  sockets?: {
    requested: number;
    count: number;
    connected: number;
    stillConnectedAfterSettle: number;
    failed: number;
    errors: Counts;
    instances: number;
    openFileLimitPerProcess: number;
    clientProcesses: number;
    connectSeconds: number | null;
    connectsPerSec: number;
    rssKiBPerSocket: number | null;
    heapKiBPerSocket: number | null;
    perInstance: SocketsInstance[];
    connectCpu: CpuSplit;
    bareRelay?: SocketsInstance;
  };
  redis?: { oneInstance: ClosedLoopRun; twoInstances: ClosedLoopRun };
  events?: {
    spec: ClosedLoopSpec;
    rounds: { off: EventsRun; on: EventsRun }[];
    offMsgPerSec: number;
    onMsgPerSec: number;
    onSustainedMsgPerSec: number;
    ratio: number | null;
    sustainedRatio: number | null;
    perRoundRatios: (number | null)[];
    perRoundSustainedRatios: (number | null)[];
    cpuMicrosPerMessage: Record<'off' | 'on', { service: number; postgres: number; nats: number }>;
  };
  replica?: ReplicaResults;
  cluster?: { plan: Plan['cluster']; redisVersion: string; summary: ClusterSummaryRow[]; runs: ClusterRun[] };
  summary?: Summary;
}

export type Summary = ReturnType<typeof summarizeResults>;

function best<T extends { msgPerSec: number }>(variants: T[] | undefined): T | undefined {
  return variants?.length ? variants.reduce((a, b) => (b.msgPerSec > a.msgPerSec ? b : a)) : undefined;
}

/** A variant of the 100-pair closed loop with `inflight` sends in flight per pair. */
const variant = (runs: { variants: ClosedLoopRun[] } | undefined, inflight: number) => runs?.variants.find((v) => v.pairs === 100 && v.inflight === inflight);
const ratioOf = (a: LoadRun | undefined, b: LoadRun | undefined) => (a && b && b.msgPerSec > 0 ? round(a.msgPerSec / b.msgPerSec, 3) : null);

/** CPU µs per message from a share of cores over a step. */
export const perMessage = (cores: number | null | undefined, run: LoadRun | undefined): number | null =>
  run && cores !== undefined && run.msgPerSec > 0 ? Math.round(((cores ?? 0) * 1e6) / run.msgPerSec) : null;

/** The summary at the top of the results JSON: the figures the targets are about. */
export function summarizeResults(results: Results) {
  const service = best(results.throughput?.variants);
  const relay = service && results.relay?.variants.find((v) => v.pairs === service.pairs && v.inflight === service.inflight);
  const relayBest = best(results.relay?.variants);
  return {
    // Peak against peak: the best closed-loop variant of each (a single disturbed relay step
    // would otherwise flatter the ratio); the same-variant ratio is kept beside it.
    throughput: service && {
      durableMsgPerSec: service.msgPerSec,
      bareRelayMsgPerSec: relayBest?.msgPerSec ?? null,
      ratio: relayBest ? round(service.msgPerSec / relayBest.msgPerSec, 3) : null,
      p99Ms: service.latency.p99Ms,
      p50Ms: service.latency.p50Ms,
      pairs: service.pairs,
      inflight: service.inflight,
      serverCpuMicrosPerMessage: service.serverCpuMicrosPerMessage,
      bareRelayPairs: relayBest?.pairs ?? null,
      bareRelayInflight: relayBest?.inflight ?? null,
      bareRelayCpuMicrosPerMessage: relayBest?.serverCpuMicrosPerMessage ?? null,
      bareRelaySameLoadMsgPerSec: relay?.msgPerSec ?? null,
      ratioSameLoad: relay ? round(service.msgPerSec / relay.msgPerSec, 3) : null,
      maxRateP99Within50Ms: results.sweep?.maxRateP99Within50 ?? null,
      // Same-variant ratios at 1 and 4 in flight per pair (100 pairs), and what 4 in flight gains over 1.
      ratioW1: ratioOf(variant(results.throughput, 1), variant(results.relay, 1)),
      ratioW4: ratioOf(variant(results.throughput, 4), variant(results.relay, 4)),
      inflight4Over1: ratioOf(variant(results.throughput, 4), variant(results.throughput, 1)),
      // CPU per message at the service's best variant: the service process, PostgreSQL's backends,
      // and the bare relay at its best variant.
      cpuPerMessageUs: {
        service: perMessage(service.cpu.serviceCores, service),
        postgres: perMessage(service.cpu.postgresCores, service),
        relay: perMessage(relayBest?.cpu.relayCores, relayBest),
      },
    },
    latencyAt2000: results.latencyAt && {
      p50Ms: results.latencyAt.latency.p50Ms,
      p99Ms: results.latencyAt.latency.p99Ms,
      rate: results.latencyAt.rate,
      achievedMsgPerSec: results.latencyAt.msgPerSec,
      pairs: results.latencyAt.pairs,
      bareRelayP50Ms: results.relay?.latencyAt?.latency.p50Ms ?? null,
      bareRelayP99Ms: results.relay?.latencyAt?.latency.p99Ms ?? null,
    },
    lowRate: results.lowRate && {
      p50Ms: results.lowRate.latency.p50Ms,
      p99Ms: results.lowRate.latency.p99Ms,
      ackP50Ms: results.lowRate.ack.p50Ms,
      rate: results.lowRate.rate,
      pairs: results.lowRate.pairs,
      bareRelayP50Ms: results.relay?.lowRate?.latency.p50Ms ?? null,
      bareRelayP99Ms: results.relay?.lowRate?.latency.p99Ms ?? null,
    },
    history: results.history && {
      rows: results.history.rows,
      conversationMessages: results.history.conversationMessages,
      p50Ms: results.history.grpc.latency.p50Ms,
      p95Ms: results.history.grpc.latency.p95Ms,
      p99Ms: results.history.grpc.latency.p99Ms,
      queriesPerSec: results.history.grpc.queriesPerSec,
      rawSqlP50Ms: results.history.rawSql.latency.p50Ms,
      rawSqlP95Ms: results.history.rawSql.latency.p95Ms,
      rawSqlP99Ms: results.history.rawSql.latency.p99Ms,
      rawSqlQueriesPerSec: results.history.rawSql.queriesPerSec,
      serviceCpuMicrosPerPage: results.history.grpc.serverCpuMicrosPerQuery,
      freshTable: results.history.freshTable && {
        conversationMessages: results.history.freshTable.conversationMessages,
        p95Ms: results.history.freshTable.grpc.latency.p95Ms,
        rawSqlP95Ms: results.history.freshTable.rawSql.latency.p95Ms,
        postgresCores: results.history.freshTable.grpc.cpu.postgresCores,
      },
    },
    list: results.list && {
      conversations: results.list.conversations,
      p50Ms: results.list.grpc.latency.p50Ms,
      p95Ms: results.list.grpc.latency.p95Ms,
      p99Ms: results.list.grpc.latency.p99Ms,
      queriesPerSec: results.list.grpc.queriesPerSec,
      rawSqlP50Ms: results.list.rawSql.latency.p50Ms,
      rawSqlP95Ms: results.list.rawSql.latency.p95Ms,
      rawSqlP99Ms: results.list.rawSql.latency.p99Ms,
      rawSqlQueriesPerSec: results.list.rawSql.queriesPerSec,
      serviceCpuMicrosPerPage: results.list.grpc.serverCpuMicrosPerQuery,
    },
    sockets: results.sockets && {
      count: results.sockets.count,
      rssKiBPerSocket: results.sockets.rssKiBPerSocket,
      heapKiBPerSocket: results.sockets.heapKiBPerSocket,
      connectsPerSec: results.sockets.connectsPerSec,
      instances: results.sockets.instances,
      bareRelayRssKiBPerSocket: results.sockets.bareRelay?.rssKiBPerSocket ?? null,
      bareRelayHeapKiBPerSocket: results.sockets.bareRelay?.heapKiBPerSocket ?? null,
    },
    redisCluster: results.cluster?.summary,
    twoInstances: results.redis && {
      msgPerSec: results.redis.twoInstances.msgPerSec,
      p99Ms: results.redis.twoInstances.latency.p99Ms,
      oneInstanceRedisMsgPerSec: results.redis.oneInstance.msgPerSec,
      oneInstanceRedisP99Ms: results.redis.oneInstance.latency.p99Ms,
    },
  };
}
