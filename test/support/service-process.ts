import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = path.join(ROOT, 'dist/main.js');

/** The production build of the service, run as a real process (npm test builds it first). */
export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Polls GET /health/ready until 200; returns the milliseconds it took. */
  waitReady(httpUrl: string, timeoutMs?: number): Promise<number>;
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  exited: Promise<number | null>;
}

export function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
}

export function startServiceProcess(env: Record<string, string>): ServiceProcess {
  requireBuild();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitReady: async (httpUrl, timeoutMs = 60_000) => {
      const started = Date.now();
      while (Date.now() - started < timeoutMs) {
        if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${output}`);
        const status = await fetch(`${httpUrl}/health/ready`).then((response) => response.status, () => 0);
        if (status === 200) return Date.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`not ready within ${timeoutMs} ms:\n${output}`);
    },
    stop: async (signal = 'SIGTERM') => {
      const started = Date.now();
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}
