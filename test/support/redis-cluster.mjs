// A private Redis Cluster on loopback (3 masters + 3 replicas by default), for the tests and the
// bench (plain JavaScript, so that the compiled bench can import it as it is; types in
// redis-cluster.d.mts).
// It never touches the shared Redis on 6379: every node gets free ports of its own.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The cluster bus of a node listens on its port + 10000. */
const BUS_OFFSET = 10_000;

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A port P free now whose bus port P + 10000 is free too. */
async function freeNodePort(taken) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (55_535 - 20_000));
    if (taken.has(port) || taken.has(port + BUS_OFFSET) || taken.has(port - BUS_OFFSET)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

async function waitFor(what, check, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Redis ≥ 7 is needed for sharded pub/sub (SSUBSCRIBE / SPUBLISH). */
export async function redisServerVersion() {
  const { stdout } = await run('redis-server', ['--version']);
  const version = /v=(\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!version) throw new Error(`cannot read the version of redis-server: ${stdout}`);
  return version.slice(1).map(Number);
}

/**
 * Starts `masters` masters with `replicasPerMaster` replicas each, joined by
 * `redis-cli --cluster create`, and resolves once every node reports cluster_state:ok and agrees on
 * the masters. `nodeTimeoutMs` is the cluster's failure detection time (cluster-node-timeout): a
 * killed master is replaced by its replica about that long after it died.
 */
export async function startRedisCluster({ masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 3000 } = {}) {
  const [major] = await redisServerVersion();
  if (major < 7) throw new Error(`redis-server ${major}.x has no sharded pub/sub; the Redis Cluster tests need Redis >= 7`);
  const dir = mkdtempSync(path.join(tmpdir(), 'messaging-redis-cluster-'));
  const count = masters * (1 + replicasPerMaster);
  const taken = new Set();
  const ports = [];
  for (let i = 0; i < count; i++) {
    const port = await freeNodePort(taken);
    taken.add(port);
    taken.add(port + BUS_OFFSET);
    ports.push(port);
  }
  /** port → the running child (absent once killed). */
  const children = new Map();
  const outputs = new Map();
  const startNode = (port) => {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(nodeTimeoutMs),
        // A replica takes over whatever the age of its data: the tests kill masters on purpose.
        '--cluster-replica-validity-factor', '0',
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--loglevel', 'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    outputs.set(port, () => output);
    children.set(port, child);
    child.once('exit', () => children.get(port) === child && children.delete(port));
  };
  const killAll = () => {
    for (const child of children.values()) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const stop = async () => {
    const exits = [...children.values()].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve))));
    killAll();
    await Promise.all(exits);
    process.off('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) startNode(port);
    for (const port of ports) {
      await waitFor(`redis-server on port ${port}`, async () => {
        if (!children.has(port)) throw new Error(`redis-server exited: ${outputs.get(port)()}`);
        return (await cli(port, 'ping')).trim() === 'PONG';
      }, 10_000);
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: 30_000 });
    const cluster = handle();
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }

  function handle() {
    const nodes = ports.map((port) => ({ port, url: `redis://127.0.0.1:${port}` }));
    /** `CLUSTER NODES` as one node sees it: [{ port, role, failed, connected }]. */
    const view = async (port) =>
      (await cli(port, 'cluster', 'nodes'))
        .trim()
        .split('\n')
        .map((line) => {
          const [, address, flags, , , , , state] = line.split(' ');
          return {
            port: Number(/:(\d+)@/.exec(address)[1]),
            master: flags.split(',').includes('master'),
            failed: /fail/.test(flags),
            connected: state === 'connected',
          };
        });
    const live = () => ports.filter((port) => children.has(port));
    return {
      nodes,
      urls: nodes.map((node) => node.url),
      /** The value for REDIS_CLUSTER_URLS: every node as a seed. */
      seeds: nodes.map((node) => node.url).join(','),
      dir,
      /** Process ids of the live nodes (for CPU accounting). */
      pids() {
        return [...children.values()].map((child) => child.pid);
      },
      /** Ports of the live masters, as the first live node sees the cluster. */
      async masters() {
        return (await view(live()[0])).filter((node) => node.master && !node.failed && children.has(node.port)).map((node) => node.port);
      },
      /** The master serving `key`'s slot. */
      async masterOf(key) {
        const slot = Number((await cli(live()[0], 'cluster', 'keyslot', key)).trim());
        const text = (await cli(live()[0], 'cluster', 'nodes')).trim().split('\n');
        for (const line of text) {
          const fields = line.split(' ');
          if (!/master/.test(fields[2]) || /fail/.test(fields[2])) continue;
          for (const range of fields.slice(8)) {
            const [from, to = from] = range.split('-').map(Number);
            if (slot >= from && slot <= to) return Number(/:(\d+)@/.exec(fields[1])[1]);
          }
        }
        throw new Error(`no master serves slot ${slot}`);
      },
      /** Kills one node (SIGKILL by default) and waits until its process is gone. */
      async kill(port, signal = 'SIGKILL') {
        const child = children.get(port);
        if (!child) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      },
      /** Sends a signal without waiting (SIGSTOP / SIGCONT freeze and thaw a node). */
      signal(port, signal) {
        children.get(port)?.kill(signal);
      },
      /**
       * Resolves once every live node says cluster_state:ok and sees `masters` live masters with
       * every live node connected; after a kill, that is when a replica has taken over.
       */
      async waitUntilHealthy(timeoutMs = 30_000) {
        await waitFor('the Redis Cluster to be healthy', async () => {
          for (const port of live()) {
            if (!/cluster_state:ok/.test(await cli(port, 'cluster', 'info'))) return false;
            const seen = (await view(port)).filter((node) => children.has(node.port));
            if (seen.filter((node) => node.master && !node.failed).length !== masters) return false;
            if (seen.some((node) => node.failed || !node.connected)) return false;
          }
          return true;
        }, timeoutMs);
      },
      stop,
    };
  }
}
