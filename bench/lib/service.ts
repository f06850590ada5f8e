import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The repository root: the nearest folder above this file with a package.json. This file runs from
 * bench/lib/ (type-checked, and imported by the tests) and compiled from bench/dist/lib/.
 */
export const ROOT = ((): string => {
  for (let dir = HERE; dir !== path.dirname(dir); dir = path.dirname(dir)) if (existsSync(path.join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${HERE}`);
})();

/** A file of the bench beside this one (`lib/` relative), with this file's own extension: .ts in the sources, .js compiled. */
export function benchFile(relativeToLib: string): string {
  return path.join(HERE, `${relativeToLib}${path.extname(fileURLToPath(import.meta.url))}`);
}

/**
 * A module of the build under test (dist/, what the service processes run), typed by its source in
 * src/: `fromBuild<typeof Cursor>('contract/cursor.js')` with `import type * as Cursor from '…/src/contract/cursor.js'`.
 */
export function fromBuild<Module>(relativeToDist: string): Promise<Module> {
  return fromRepository<Module>(path.join('dist', relativeToDist));
}

/** A JavaScript module of the repository by its path from the root (the same file from bench/ and from bench/dist/). */
export async function fromRepository<Module>(relativeToRoot: string): Promise<Module> {
  return (await import(pathToFileURL(path.join(ROOT, relativeToRoot)).href)) as Module;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface MemoryAfterGc {
  rssKiB: number;
  heapUsedKiB: number;
  externalKiB: number;
}

/** A V8 CPU profile (Profiler.stop's `profile`), as far as the bench reads it. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ChildServer {
  name: string;
  pid: number;
  port: number;
  url: string;
  /** The last lines of its stdout and stderr. */
  tail: string[];
  readonly exited: ExitStatus | null;
  rssKiB(): number | null;
  hwmKiB(): number | null;
  cpuSeconds(): number | null;
  memoryAfterGc(): Promise<MemoryAfterGc>;
  profile<T>(work: () => Promise<T>, samplingIntervalMicros?: number): Promise<{ profile: CpuProfile; result: T }>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitStatus>;
}

export interface ServiceProcess extends ChildServer {
  grpcAddress: string;
  /** /metrics, every sample by its name and labels (`name{label="x"}`). */
  metrics(): Promise<Record<string, number>>;
}

interface StartProcessOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  readyPath: string;
  nodeArgs?: string[];
  inspect?: boolean;
  timeoutMs?: number;
  /** The checkout whose build runs (another one's, to A/B two trees in one run). */
  root?: string;
}

type InspectorCall = <T = Record<string, unknown>>(method: string, params?: Record<string, unknown>) => Promise<T>;

/**
 * Starts a child process serving HTTP on `port` and waits until `readyPath` answers 200.
 * stderr is kept (the last lines) so that a failed start says why.
 */
async function startProcess({ name, args, env, port, readyPath, nodeArgs = [], inspect = false, timeoutMs = 60_000, root = ROOT }: StartProcessOptions): Promise<ChildServer> {
  const inspectPort = inspect ? await freePort() : undefined;
  if (inspect) nodeArgs = [...nodeArgs, `--inspect=127.0.0.1:${inspectPort}`];
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: ExitStatus | null = null;
  const exit = new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${name} exited during start (${JSON.stringify(exited)}):\n${tail.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${tail.join('\n')}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    name,
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    tail,
    get exited() {
      return exited;
    },
    rssKiB: () => readStatusKiB(pid, 'VmRSS'),
    hwmKiB: () => readStatusKiB(pid, 'VmHWM'),
    cpuSeconds: () => readCpuSeconds(pid),
    /** Full GC through the inspector, then process.memoryUsage() and VmRSS. */
    async memoryAfterGc() {
      if (!inspectPort) throw new Error(`${name} was started without inspect`);
      const usage = await inspectorSession(inspectPort, async (call) => {
        await call('HeapProfiler.collectGarbage');
        await call('HeapProfiler.collectGarbage');
        const { result } = await call<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
        return JSON.parse(result.value) as NodeJS.MemoryUsage;
      });
      const rssKiB = readStatusKiB(pid, 'VmRSS');
      if (rssKiB === null) throw new Error(`${name}: no VmRSS in /proc/${pid}/status`);
      return { rssKiB, heapUsedKiB: Math.round(usage.heapUsed / 1024), externalKiB: Math.round(usage.external / 1024) };
    },
    /**
     * A V8 CPU profile of just `work` (not start-up or warm-up), through the inspector. Samples
     * are wall-clock ticks: on a busy machine a process descheduled inside a syscall (typically
     * `writev` waking its peer) collects samples there without using CPU.
     */
    async profile<T>(work: () => Promise<T>, samplingIntervalMicros = 250) {
      if (!inspectPort) throw new Error(`${name} was started without inspect`);
      let result: T | undefined;
      const profile = await inspectorSession(inspectPort, async (call) => {
        await call('Profiler.enable');
        await call('Profiler.setSamplingInterval', { interval: samplingIntervalMicros });
        await call('Profiler.start');
        result = await work();
        const { profile } = await call<{ profile: CpuProfile }>('Profiler.stop');
        return profile;
      });
      return { profile, result: result as T };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 12_000) {
      if (exited) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * The production build of the service (dist/main.js) as a child process. With `inspect`, the
 * V8 inspector listens on loopback so that the bench can force a full GC before reading memory.
 */
export async function startService({
  name = 'service',
  env,
  nodeArgs = [],
  inspect = false,
  root,
}: {
  name?: string;
  env: Record<string, string>;
  nodeArgs?: string[];
  inspect?: boolean;
  root?: string;
}): Promise<ServiceProcess> {
  const port = await freePort();
  const grpcPort = await freePort();
  const service = await startProcess({
    name,
    root,
    args: ['dist/main.js'],
    // BENCH_SERVICE_NODE_ARGS: extra node flags for every service process, e.g. an --import
    // preload to A/B an experiment (see bench/tools/) without touching src/.
    nodeArgs: [...(process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean), ...nodeArgs],
    inspect,
    port,
    readyPath: '/health/ready',
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      GRPC_PORT: String(grpcPort),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MESSAGES_PER_SECOND: '100000',
      RATE_LIMIT_READS_PER_SECOND: '100000',
      RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '1000000',
      ...(process.env.BENCH_DATABASE_POOL_SIZE ? { DATABASE_POOL_SIZE: process.env.BENCH_DATABASE_POOL_SIZE } : {}),
      ...env,
    },
  });
  return Object.assign(service, {
    grpcAddress: `127.0.0.1:${grpcPort}`,
    async metrics() {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      return parsePrometheus(text);
    },
  });
}

async function inspectorSession<T>(port: number, work: (call: InspectorCall) => Promise<T>): Promise<T> {
  const { WebSocket } = await import('ws');
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 0;
  const waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { id?: number; error?: { message: string }; result?: unknown };
    if (message.id === undefined) return;
    const waiter = waiting.get(message.id);
    if (!waiter) return;
    waiting.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  const call: InspectorCall = <R>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<R>((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    return await work(call);
  } finally {
    ws.close();
  }
}

/** The bare Socket.IO relay of bench/bare-relay.ts. */
export async function startBareRelay({ inspect = false }: { inspect?: boolean } = {}): Promise<ChildServer> {
  const port = await freePort();
  return startProcess({ name: 'bare-relay', args: [benchFile('../bare-relay')], port, readyPath: '/ready', inspect, env: { PORT: String(port) } });
}

export function readStatusKiB(pid: number, field: string): number | null {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : null;
}

const CLOCK_TICKS = 100;

/**
 * User + system CPU seconds of a process (/proc/<pid>/stat fields 14 and 15), plus, with
 * `withChildren`, those of its exited and reaped children (fields 16 and 17).
 */
export function readCpuSeconds(pid: number, withChildren = false): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return (withChildren ? own + Number(fields[13]) + Number(fields[14]) : own) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** CPU seconds of a process's main thread only (the event loop; GC helpers and the thread pool excluded). */
export function readMainThreadCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3] + line[4];
  const total = line.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

/**
 * CPU seconds of the PostgreSQL backends serving the given databases (matched by their process
 * title, `postgres: … <user> <database> <client> …`). Backends that exit during a step are lost,
 * so the bench keeps its pools open until it has read this.
 */
export function postgresCpuSeconds(databases: string[]): number {
  let sum = 0;
  for (const pid of listPids()) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (databases.some((name) => title.includes(` ${name} `))) sum += readCpuSeconds(Number(pid)) ?? 0;
    } catch {
      // gone
    }
  }
  return sum;
}

function listPids(): string[] {
  try {
    return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
}

function parsePrometheus(text: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return values;
}
