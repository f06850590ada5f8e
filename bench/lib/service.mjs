import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a child process serving HTTP on `port` and waits until `readyPath` answers 200.
 * stderr is kept (the last lines) so that a failed start says why.
 */
async function startProcess({ name, args, env, port, readyPath, nodeArgs = [], inspect = false, timeoutMs = 60_000 }) {
  const inspectPort = inspect ? await freePort() : undefined;
  if (inspect) nodeArgs = [...nodeArgs, `--inspect=127.0.0.1:${inspectPort}`];
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = [];
  const keep = (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
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
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    tail,
    get exited() {
      return exited;
    },
    rssKiB: () => readStatusKiB(child.pid, 'VmRSS'),
    hwmKiB: () => readStatusKiB(child.pid, 'VmHWM'),
    cpuSeconds: () => readCpuSeconds(child.pid),
    /** Full GC through the inspector, then process.memoryUsage() and VmRSS. */
    async memoryAfterGc() {
      if (!inspectPort) throw new Error(`${name} was started without inspect`);
      const usage = await inspectorSession(inspectPort, async (call) => {
        await call('HeapProfiler.collectGarbage');
        await call('HeapProfiler.collectGarbage');
        const { result } = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
        return JSON.parse(result.value);
      });
      return { rssKiB: readStatusKiB(child.pid, 'VmRSS'), heapUsedKiB: Math.round(usage.heapUsed / 1024), externalKiB: Math.round(usage.external / 1024) };
    },
    /**
     * A V8 CPU profile of just `work` (not start-up or warm-up), through the inspector. Samples
     * are wall-clock ticks: on a busy machine a process descheduled inside a syscall (typically
     * `writev` waking its peer) collects samples there without using CPU.
     */
    async profile(work, samplingIntervalMicros = 250) {
      if (!inspectPort) throw new Error(`${name} was started without inspect`);
      let result;
      const profile = await inspectorSession(inspectPort, async (call) => {
        await call('Profiler.enable');
        await call('Profiler.setSamplingInterval', { interval: samplingIntervalMicros });
        await call('Profiler.start');
        result = await work();
        const { profile } = await call('Profiler.stop');
        return profile;
      });
      return { profile, result };
    },
    async stop(signal = 'SIGTERM', graceMs = 12_000) {
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
export async function startService({ name = 'service', env, nodeArgs = [], inspect = false }) {
  const port = await freePort();
  const grpcPort = await freePort();
  const service = await startProcess({
    name,
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

async function inspectorSession(port, work) {
  const { WebSocket } = await import('ws');
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    const waiter = waiting.get(message.id);
    if (!waiter) return;
    waiting.delete(message.id);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    return await work(call);
  } finally {
    ws.close();
  }
}

/** The bare Socket.IO relay of bench/bare-relay.mjs. */
export async function startBareRelay({ inspect = false } = {}) {
  const port = await freePort();
  return startProcess({ name: 'bare-relay', args: ['bench/bare-relay.mjs'], port, readyPath: '/ready', inspect, env: { PORT: String(port) } });
}

export function readStatusKiB(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : null;
}

const CLOCK_TICKS = 100;

/**
 * User + system CPU seconds of a process (/proc/<pid>/stat fields 14 and 15), plus, with
 * `withChildren`, those of its exited and reaped children (fields 16 and 17).
 */
export function readCpuSeconds(pid, withChildren = false) {
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
export function readMainThreadCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export function machineCpu() {
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
export function postgresCpuSeconds(databases) {
  let sum = 0;
  for (const pid of listPids()) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (databases.some((name) => title.includes(` ${name} `))) sum += readCpuSeconds(pid) ?? 0;
    } catch {
      // gone
    }
  }
  return sum;
}

function listPids() {
  try {
    return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
}

function parsePrometheus(text) {
  const values = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return values;
}
