import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.js';
import { DependencyStates, type DependencyStateLogger } from '../observability/dependency-state.js';
import { Metrics } from '../observability/metrics.js';
import { traced } from '../observability/tracing.js';
import { HotSql, statement, type HotStatement } from './hot-sql.js';
import { DATABASE_DEPENDENCY } from './prisma.service.js';

/** The replica's name in dependency-state log lines. */
export const REPLICA_DEPENDENCY = 'postgresql (read replica)';

/** What is read: the label of messaging_reads_total. */
export type ReadKind = 'history' | 'list';

/**
 * A replica that does not connect or answer within this long is given up for the read, which the
 * primary answers, and for every read until a probe answers again (within a second): a replica that
 * hangs delays the reads already on it, never the next ones. Long beside a page's few milliseconds,
 * so that a loaded replica is not mistaken for a dead one.
 */
const REPLICA_TIMEOUT_MS = 500;
/** How often the replica is probed in the background (state log, lag gauge, back in use after an outage). */
const MONITOR_INTERVAL_MS = 1000;
const PROBE_TIMEOUT_MS = 1000;

/**
 * The primary's WAL position that covers every write it acknowledged before the statement ran.
 * With synchronous_commit on (the default, and the service's), an acknowledged commit is flushed:
 * the flush position is the lowest that covers it. With it off, a commit is acknowledged before
 * its WAL is written, and only the insert position covers it.
 */
export const PRIMARY_POSITION = statement(
  'replica_primary_position',
  `SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END)::text`,
);

/**
 * On the replica: has it replayed (not merely received) $1, how far behind it is in bytes, its
 * replay lag in seconds, and whether its replay is paused (or it is not a standby at all: then
 * pg_last_wal_replay_lsn() is NULL, a promoted replica or a primary given as DATABASE_READ_URL,
 * which never counts as having replayed anything).
 *
 * A statement of its own, before the read, on the same connection: the read's snapshot is taken
 * when the read starts, so it holds everything replayed when this answered. Checked inside the read
 * itself, replay could pass $1 between the read's snapshot and the check, and the page would miss
 * what was replayed in between.
 */
export const REPLAYED = statement(
  'replica_replayed',
  `SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false),
          GREATEST(COALESCE(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0), 0)::float8,
          ${lagSeconds()},
          CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() <> 'not paused' ELSE true END`,
);

/**
 * How long a read waits for a replica that replays but has not reached the request's position yet.
 * Under a steady write rate the primary's position is almost always a few records ahead of the
 * replica's replay (a fraction of a millisecond on a LAN): without a wait most reads would go to
 * the primary exactly when it is busiest. A paused replica is not waited for.
 */
const REPLICA_WAIT_MS = 5;
const RECHECK_EVERY_MS = 1;

const PROBE = statement('replica_probe', `SELECT pg_is_in_recovery(), ${lagSeconds()}`);

/** The usual replay lag: 0 when all received WAL is replayed (an idle primary is no lag), else the age of the last replayed transaction. */
function lagSeconds(): string {
  return `(CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(GREATEST(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0), 0) END)::float8`;
}

/**
 * Where history pages and conversation lists are read (CONTRACT §4.2). Without DATABASE_READ_URL:
 * the primary, through HotSql. With it: the replica whenever it has replayed the primary's WAL
 * position read after the request began (so every write acknowledged before it, by any instance);
 * otherwise, or when it fails or hangs, the primary, within the same request.
 */
@Injectable()
export class ReadSql implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly replica?: Replica;

  constructor(
    private readonly primary: HotSql,
    @Inject(APP_CONFIG) config: AppConfig,
    states: DependencyStates,
    private readonly metrics: Metrics,
  ) {
    if (config.databaseReadUrl) {
      this.replica = new Replica(config.databaseReadUrl, config.databasePoolSize, primary, { replica: states.of(REPLICA_DEPENDENCY), primary: states.of(DATABASE_DEPENDENCY) }, metrics);
    }
  }

  /** The rows of a read-only statement, from the replica when it may answer, from the primary otherwise. */
  async rows(read: ReadKind, statement: HotStatement, values: unknown[]): Promise<unknown[][]> {
    if (this.replica) {
      const rows = await this.replica.rowsIfReplayed(statement, values);
      if (rows) {
        this.metrics.reads.inc({ read, target: 'replica' });
        return rows;
      }
    }
    const rows = await this.primary.rows(statement, values);
    this.metrics.reads.inc({ read, target: 'primary' });
    return rows;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.replica?.monitor();
  }

  beforeApplicationShutdown(): void {
    this.replica?.stopMonitor();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.replica?.close();
  }
}

class Replica {
  private readonly pool: pg.Pool;
  private readonly position: PrimaryPosition;
  /** False from a failure until a probe answers: reads then go straight to the primary. */
  private up = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    url: string,
    poolSize: number,
    primary: HotSql,
    private readonly states: { replica: DependencyStateLogger; primary: DependencyStateLogger },
    private readonly metrics: Metrics,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: REPLICA_TIMEOUT_MS,
      // Client side: a replica that stops answering (SIGSTOP, a network partition) must not hold the read.
      query_timeout: REPLICA_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      options: '-c TimeZone=UTC',
    });
    // An idle connection dropped by the replica: logged once per change of state, as the primary's.
    this.pool.on('error', (error) => this.failed(error));
    this.position = new PrimaryPosition(async () => {
      this.metrics.primaryPositionQueries.inc();
      const [row] = await primary.rows(PRIMARY_POSITION, []);
      return row![0] as string;
    });
  }

  /** The statement's rows from the replica, or undefined when the primary must answer instead. */
  async rowsIfReplayed(statement: HotStatement, values: unknown[]): Promise<unknown[][] | undefined> {
    if (!this.up) {
      this.metrics.replicaFallbacks.inc({ reason: 'down' });
      return undefined;
    }
    let target: string;
    try {
      target = await this.position.after();
    } catch (error) {
      // The primary's state (shared with its pool and the readiness probe, so logged once per
      // change); the read then goes to the primary, which answers or fails on its own.
      this.states.primary.failed(error);
      return undefined;
    }
    return traced(`db replica ${statement.name}`, { 'db.system': 'postgresql', 'db.operation.name': statement.name }, async () => {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        this.failed(error);
        this.metrics.replicaFallbacks.inc({ reason: 'error' });
        return undefined;
      }
      let broken: Error | undefined;
      const onError = (error: Error) => (broken ??= error);
      client.on('error', onError);
      try {
        const deadline = performance.now() + REPLICA_WAIT_MS;
        for (;;) {
          const check = await client.query<unknown[]>({ name: REPLAYED.name, text: REPLAYED.text, values: [target], rowMode: 'array' });
          const [replayed, lagBytes, lagSeconds, paused] = check.rows[0] as [boolean, number, number, boolean];
          this.metrics.replicaLagBytes.set(lagBytes);
          this.metrics.replicaLagSeconds.set(lagSeconds);
          if (replayed) break;
          if (paused || broken || performance.now() >= deadline) {
            this.metrics.replicaFallbacks.inc({ reason: 'behind' });
            return undefined;
          }
          await delay(RECHECK_EVERY_MS);
        }
        const result = await client.query<unknown[]>({ name: statement.name, text: statement.text, values, rowMode: 'array' });
        this.states.replica.recovered();
        return result.rows;
      } catch (error) {
        // A recovery conflict, a timeout, a dropped connection: the primary answers this read. A
        // statement the replica refuses would be refused by the primary too, which reports it.
        if (!(error instanceof pg.DatabaseError) || error.severity === 'FATAL' || error.severity === 'PANIC') broken ??= error as Error;
        this.failed(error);
        this.metrics.replicaFallbacks.inc({ reason: 'error' });
        return undefined;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    });
  }

  private failed(error: unknown): void {
    this.up = false;
    this.metrics.dependencyUp.set({ dependency: 'database_replica' }, 0);
    this.states.replica.failed(error);
  }

  /** Probes the replica now and every second: the state log, the up gauge, the lag, and its return after an outage. */
  async monitor(): Promise<void> {
    await this.probe();
    if (!this.stopped) this.timer = setTimeout(() => void this.monitor(), MONITOR_INTERVAL_MS);
  }

  private async probe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS)));
    const run = this.pool.query<unknown[]>({ name: PROBE.name, text: PROBE.text, rowMode: 'array' });
    run.catch(() => undefined);
    try {
      const result = await Promise.race([run, timeout]);
      const [inRecovery, lagSeconds] = result.rows[0] as [boolean, number];
      if (!inRecovery) throw new Error('DATABASE_READ_URL is not a standby (pg_is_in_recovery() is false); reads go to the primary');
      this.metrics.replicaLagSeconds.set(lagSeconds);
      this.up = true;
      this.metrics.dependencyUp.set({ dependency: 'database_replica' }, 1);
      this.states.replica.recovered();
    } catch (error) {
      if (!this.stopped) this.failed(error);
    } finally {
      clearTimeout(timer);
    }
  }

  stopMonitor(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async close(): Promise<void> {
    this.stopMonitor();
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * The primary's WAL position, read by a query sent after the caller asked: concurrent reads share
 * one. A read that arrives while a query is on its way waits for the next one (the one on its way
 * may have been answered before the read's request began); so there is at most one such query in
 * flight and one waiting, whatever the read rate (docs/scaling.md, "Read replica").
 */
export class PrimaryPosition {
  private running: Promise<string> | undefined;
  private queued: Promise<string> | undefined;

  constructor(private readonly read: () => Promise<string>) {}

  after(): Promise<string> {
    if (!this.running) return this.start();
    this.queued ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  private startQueued(): Promise<string> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<string> {
    const running = this.read();
    this.running = running;
    const clear = () => {
      if (this.running === running) this.running = undefined;
    };
    running.then(clear, clear);
    return running;
  }
}
