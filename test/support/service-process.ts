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
