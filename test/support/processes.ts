import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../../src/infrastructure/net/free-port.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output kept for failure messages. */
export interface Child {
  process: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** Resolves when the process has exited (at once when it already has). */
  exited: Promise<ExitStatus>;
  /** Sends the signal unless the process has already exited. */
  kill(signal?: NodeJS.Signals): void;
}

/** Children still running; killed when the test worker exits, even when a timed-out test skipped its cleanup. */
const liveChildren = new Set<ChildProcess>();
let exitHook = false;

export function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const orphan of liveChildren) orphan.kill('SIGKILL');
    });
  }
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  return {
    process: child,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (!done && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A redis-server of the test's own (no persistence) that the test may kill and start again on the same port. */
export interface PrivateRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL by default) and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** `password`: the server requires it (`--requirepass`), for tests of a refused password. */
export async function startPrivateRedis(options: { password?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const password = options.password ? ['--requirepass', options.password] : [];
  const url = `redis://127.0.0.1:${port}`;
  let child: Child | undefined;
  const start = async () => {
    child = spawnChild('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...password]);
    const started = child;
    await pollUntil(
      `redis-server on port ${port}`,
      async () => {
        if (started.process.exitCode !== null) throw new Error(`redis-server exited: ${started.output()}`);
        const probe = new Redis(url, { password: options.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG' ? true : undefined;
        } catch {
          return undefined;
        } finally {
          probe.disconnect();
        }
      },
      10_000,
      20,
    );
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = child;
    child = undefined;
    if (!running) return;
    running.kill(signal);
    await running.exited;
  };
  await start();
  return { port, url, kill, start, signal: (signal) => child?.kill(signal), stop: () => kill('SIGTERM') };
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
let builtMain: string | undefined;
let builtRoot: string | undefined;

/**
 * The service compiled as `nest build` compiles it (SWC with the repository's .swcrc), into a
 * private directory that mirrors the repository's layout (proto/, prisma/, node_modules and
 * package.json linked or copied beside dist/), so that a test runs the current sources as a real
 * process without touching the shared dist/ that other runs may be using. Returns main.js; built
 * once per test file, removed by removeBuild().
 */
export function buildService(): string {
  if (builtMain) return builtMain;
  // The service imports the contract from the built workspace package (npm test builds it first;
  // here only when missing, as concurrent workers must not rebuild the folder the others read).
  if (!existsSync(path.join(REPO_ROOT, 'packages/client/dist/contract/index.js'))) {
    execFileSync('npm', ['run', '-s', 'build:client'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const root = mkdtempSync(path.join(tmpdir(), 'messaging-build-'));
  try {
    execFileSync(
      path.join(REPO_ROOT, 'node_modules/.bin/swc'),
      ['src', '-d', path.join(root, 'dist'), '--strip-leading-paths', '--config-file', '.swcrc', '--ignore', '**/*.spec.ts', '--quiet'],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`building the service failed:\n${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`, { cause: error });
  }
  for (const linked of ['node_modules', 'proto', 'prisma']) symlinkSync(path.join(REPO_ROOT, linked), path.join(root, linked));
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
  builtMain = path.join(root, 'dist', 'main.js');
  builtRoot = root;
  return builtMain;
}

/** Removes what buildService() made (call it in afterAll, once the processes have exited). */
export function removeBuild(): void {
  if (builtRoot) rmSync(builtRoot, { recursive: true, force: true });
  builtRoot = builtMain = undefined;
}

