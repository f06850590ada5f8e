import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../../src/infrastructure/embedded/embedded-postgres.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { pollUntil } from './processes.js';

/**
 * A PostgreSQL of the test's own (the embedded-postgres binaries, as the service's embedded
 * default runs them), which the test may stop in immediate mode and start again: the shared one
 * must never be stopped. It sits behind a fault proxy, so its URL stays the same when it comes back
 * on another port; the proxy can also play network faults in front of it.
 */
export interface PrivatePostgres {
  /** Through the proxy: what the service is given. */
  url: string;
  proxy: FaultProxy;
  /** `pg_ctl stop -m immediate`: SIGQUIT to the postmaster, no checkpoint, crash recovery at the next start. */
  stopImmediate(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const root = mkdtempSync(path.join(tmpdir(), 'messaging-pg-'));
  // Run as root, PostgreSQL runs as the postgres user, which must reach its data directory.
  chmodSync(root, 0o777);
  const pidFile = path.join(root, 'postgres', 'postmaster.pid');
  let running: RunningEmbeddedPostgres | undefined = await startEmbeddedPostgres(root, () => undefined);
  const proxy = await startFaultProxy({ port: Number(new URL(running.url).port) });
  const url = new URL(running.url);
  url.port = String(proxy.port);

  const refuses = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });

  return {
    url: url.toString(),
    proxy,
    async stopImmediate() {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      const port = proxy.target.port;
      process.kill(pid, 'SIGQUIT');
      running = undefined;
      await pollUntil('PostgreSQL to stop', async () => ((await refuses(port)) && !existsSync(pidFile) ? true : undefined), 15_000, 20);
    },
    async start() {
      running = await startEmbeddedPostgres(root, () => undefined);
      proxy.target = { host: '127.0.0.1', port: Number(new URL(running.url).port) };
    },
    async close() {
      await proxy.close();
      await running?.stop().catch(() => undefined);
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
        } catch {
          // Already gone.
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
