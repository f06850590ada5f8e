import { freePort } from '../../src/infrastructure/net/free-port.js';
import { buildService, pollUntil, spawnChild, type Child } from './processes.js';

/** The service as a real process on ports the test chooses, with no environment but `env` (and PATH). */
export interface ServiceProcess extends Child {
  /** Polls GET /health/ready until 200; returns the milliseconds it took. */
  waitReady(httpUrl: string, timeoutMs?: number): Promise<number>;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/**
 * Starts the current sources' build (see buildService) without waiting for readiness, for tests
 * of start-up itself: the embedded default, restarts on one DATA_DIR, configuration refused.
 */
export function startServiceProcess(env: Record<string, string>): ServiceProcess {
  const child = spawnChild(process.execPath, [buildService()], { PATH: process.env.PATH, HOME: process.env.HOME, ...env });
  return {
    ...child,
    waitReady: async (httpUrl, timeoutMs = 60_000) => {
      const started = Date.now();
      await pollUntil(
        `${httpUrl} to be ready`,
        async () => {
          if (child.process.exitCode !== null) throw new Error(`the service exited with ${child.process.exitCode}:\n${child.output()}`);
          const status = await fetch(`${httpUrl}/health/ready`).then((response) => response.status, () => 0);
          return status === 200 ? true : undefined;
        },
        timeoutMs,
        100,
      );
      return Date.now() - started;
    },
    stop: async (signal = 'SIGTERM') => {
      const started = Date.now();
      child.kill(signal);
      const { code } = await child.exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** A running service, ready (GET /health/ready answered 200), on free loopback ports. */
export interface ReadyService extends ServiceProcess {
  httpUrl: string;
  grpcAddress: string;
}

/** Starts the built service with `env` (over a minimal environment) on free ports and waits until it is ready. */
export async function spawnService(env: Record<string, string>): Promise<ReadyService> {
  const [port, grpcPort] = [await freePort(), await freePort()];
  const child = startServiceProcess({ HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(grpcPort), LOG_LEVEL: 'warn', ...env });
  const httpUrl = `http://127.0.0.1:${port}`;
  try {
    await child.waitReady(httpUrl, 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { ...child, httpUrl, grpcAddress: `127.0.0.1:${grpcPort}` };
}
