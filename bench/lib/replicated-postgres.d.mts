/** Types of replicated-postgres.mjs, for the tests that start one (test/support/replicated-postgres.ts). */
export interface ReplicatedPostgres {
  /** The primary's `messaging` database: DATABASE_URL. */
  primaryUrl: string;
  /** The same database on the replica: DATABASE_READ_URL. */
  replicaUrl: string;
  /** The primary's / the replica's `postgres` database. */
  adminUrl: string;
  replicaAdminUrl: string;
  /** The postmasters' process ids (their backends are their children). */
  primaryPid(): number;
  replicaPid(): number;
  /** `pg_wal_replay_pause()` on the replica: it goes on receiving WAL, and replays none of it. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /**
   * `recovery_min_apply_delay` on the replica (0 to stop): it replays each commit that long after
   * the primary made it, and is not paused meanwhile, a replica that lags by a known amount.
   */
  setApplyDelay(ms: number): Promise<void>;
  /** Resolves once the replica has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  /** SIGSTOP / SIGCONT to the replica's postmaster and all its processes: a replica that hangs (connections accepted by the kernel, never answered). */
  freezeReplica(): void;
  thawReplica(): void;
  /** Stops the replica's postmaster (fast mode) / starts it again on the same port. */
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  close(): Promise<void>;
}

export function startReplicatedPostgres(options?: { sharedBuffers?: string }): Promise<ReplicatedPostgres>;
