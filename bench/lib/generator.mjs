// One load-generator process (forked by bench/lib/pool.mjs). It holds both sockets of each of its
// user pairs, so that a message's emit and its arrival at the recipient are timed on one clock:
// performance.now() of this process. It answers commands from the parent over IPC
// (structured-clone serialization, so latency samples travel as Float64Arrays).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import pg from 'pg';
import { io } from 'socket.io-client';
import { SampleBuffer } from './stats.mjs';
import { signToken } from './tokens.mjs';

const GENERATOR = Number(process.env.BENCH_GENERATOR_INDEX ?? 0);
/** About the size of a typical chat line. */
const TEXT = 'Benchmark message: the quick brown fox jumps over the lazy dog. 0123456789';
const MESSAGE_TIMEOUT_MS = 10_000;

const sets = new Map();
const openPools = [];
const idle = [];
const pending = new Map();
let counter = 0;

/** State of the load phase that is running (one at a time per process). */
const run = {
  active: false,
  measuring: false,
  closedLoop: false,
  latencies: new SampleBuffer(),
  ackLatencies: new SampleBuffer(),
  completedInWindow: 0,
  sentInWindow: 0,
  errors: {},
  timeouts: 0,
  stray: 0,
};

function socketOptions(auth, localAddress) {
  return {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 60_000,
    ...(localAddress ? { localAddress } : {}),
  };
}

function connectSocket(url, auth, localAddress) {
  const socket = io(url, socketOptions(auth, localAddress));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

async function mapLimit(items, limit, worker) {
  let next = 0;
  const results = new Array(items.length);
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await worker(items[index], index);
      }
    }),
  );
  return results;
}

function onNewMessage(message) {
  const entry = pending.get(message?.clientMessageId);
  if (!entry || entry.received) {
    run.stray++;
    return;
  }
  const now = performance.now();
  entry.received = true;
  if (entry.measured) run.latencies.push(now - entry.t0);
  if (entry.acked) complete(entry, message.clientMessageId);
}

function send(pair, closedLoop) {
  const from = pair.direction ? pair.b : pair.a;
  pair.direction ^= 1;
  const clientMessageId = `g${GENERATOR}-${++counter}`;
  const entry = { pair, t0: 0, acked: false, received: false, failed: false, measured: run.measuring, closedLoop };
  pending.set(clientMessageId, entry);
  if (run.measuring) run.sentInWindow++;
  entry.t0 = performance.now();
  from.emit('sendMessage', { conversationId: pair.conversationId, text: TEXT, clientMessageId }, (result) => {
    if (entry.acked || entry.failed || !pending.has(clientMessageId)) return;
    if (!result?.ok) {
      const code = result?.error?.code ?? 'NO_ACK';
      run.errors[code] = (run.errors[code] ?? 0) + 1;
      entry.failed = true;
      complete(entry, clientMessageId);
      return;
    }
    entry.acked = true;
    if (entry.measured) run.ackLatencies.push(performance.now() - entry.t0);
    if (entry.received) complete(entry, clientMessageId);
  });
}

function complete(entry, clientMessageId) {
  pending.delete(clientMessageId);
  if (run.measuring && !entry.failed) run.completedInWindow++;
  if (entry.closedLoop && run.active && run.closedLoop) send(entry.pair, true);
}

setInterval(() => {
  const limit = performance.now() - MESSAGE_TIMEOUT_MS;
  for (const [clientMessageId, entry] of pending) {
    if (entry.t0 > limit) continue;
    run.timeouts++;
    entry.failed = true;
    complete(entry, clientMessageId);
  }
}, 1000).unref();

function resetRun() {
  run.latencies.take();
  run.ackLatencies.take();
  run.completedInWindow = 0;
  run.sentInWindow = 0;
  run.errors = {};
  run.timeouts = 0;
  run.stray = 0;
}

async function drain(timeoutMs = MESSAGE_TIMEOUT_MS + 1000) {
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) await sleep(20);
  return pending.size;
}

function results(windowMs, extra = {}) {
  return {
    windowMs,
    completed: run.completedInWindow,
    sent: run.sentInWindow,
    latencies: run.latencies.take(),
    ackLatencies: run.ackLatencies.take(),
    errors: run.errors,
    timeouts: run.timeouts,
    stray: run.stray,
    ...extra,
  };
}

const handlers = {
  /**
   * Connects both sockets of each pair (A to urlA, B to urlB) and, for the service, starts their
   * conversation. Relay pairs share a room instead.
   */
  async connectPairs({ set, pairs, mode, secret, concurrency = 50 }) {
    const started = performance.now();
    const connected = await mapLimit(pairs, concurrency, async (spec) => {
      const auth = (user) => (mode === 'service' ? { token: signToken(secret, user) } : { room: `room-${spec.a}`, userId: user });
      const [a, b] = await Promise.all([connectSocket(spec.urlA, auth(spec.a)), connectSocket(spec.urlB, auth(spec.b))]);
      for (const socket of [a, b]) socket.on('newMessage', onNewMessage);
      let conversationId = `room-${spec.a}`;
      if (mode === 'service') {
        let result = await a.timeout(30_000).emitWithAck('startConversation', { participantId: spec.b });
        // UNAVAILABLE may be retried (CONTRACT §3): a shared, busy machine can miss a Connections deadline.
        for (let attempt = 0; attempt < 5 && result?.ok === false && result.error.code === 'UNAVAILABLE'; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          result = await a.timeout(30_000).emitWithAck('startConversation', { participantId: spec.b });
        }
        if (!result?.ok) throw new Error(`startConversation ${spec.a}→${spec.b}: ${JSON.stringify(result)}`);
        conversationId = result.data.conversation.conversationId;
      }
      return { a, b, conversationId, direction: 0 };
    });
    sets.set(set, connected);
    return { pairs: connected.length, ms: performance.now() - started };
  },

  async closeSet({ set }) {
    for (const pair of sets.get(set) ?? []) {
      pair.a.close();
      pair.b.close();
    }
    sets.delete(set);
    return {};
  },

  /** Each of the first `pairs` pairs keeps `inflight` messages outstanding: send, await ack and arrival, send again. */
  async closedLoop({ set, pairs, inflight, warmupMs, durationMs }) {
    const chosen = (sets.get(set) ?? []).slice(0, pairs);
    resetRun();
    Object.assign(run, { active: true, closedLoop: true, measuring: false });
    for (const pair of chosen) for (let i = 0; i < inflight; i++) send(pair, true);
    await sleep(warmupMs);
    resetRun();
    run.measuring = true;
    const start = performance.now();
    await sleep(durationMs);
    run.measuring = false;
    const windowMs = performance.now() - start;
    run.active = false;
    const snapshot = results(windowMs);
    const left = await drain();
    return { ...snapshot, leftPending: left, pairs: chosen.length };
  },

  /**
   * Offers `rate` messages per second (this process's share), round-robin over the pairs,
   * whatever the answers do (open loop). Above `maxOutstanding` unanswered messages, the
   * process stops offering (and counts the shortfall), so an overloaded step ends instead of
   * queueing without bound.
   */
  async openLoop({ set, pairs, rate, warmupMs, durationMs, maxOutstanding = 20_000 }) {
    const chosen = (sets.get(set) ?? []).slice(0, pairs);
    resetRun();
    Object.assign(run, { active: true, closedLoop: false, measuring: false });
    let sent = 0;
    let skipped = 0;
    let next = 0;
    let measureStart = 0;
    let measureSent = 0;
    let measureSkipped = 0;
    const begin = performance.now();
    const total = warmupMs + durationMs;
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        const elapsed = now - begin;
        if (!run.measuring && elapsed >= warmupMs) {
          resetRun();
          run.measuring = true;
          measureStart = now;
          measureSent = sent;
          measureSkipped = skipped;
        }
        if (elapsed >= total) return resolve();
        const due = Math.floor((rate * elapsed) / 1000) - sent - skipped;
        for (let i = 0; i < due; i++) {
          if (pending.size >= maxOutstanding) {
            skipped += due - i;
            break;
          }
          send(chosen[next++ % chosen.length], false);
          sent++;
        }
        setTimeout(tick, 1);
      };
      tick();
    });
    run.measuring = false;
    const windowMs = performance.now() - measureStart;
    run.active = false;
    const snapshot = results(windowMs, { offered: sent + skipped - measureSent - measureSkipped, skipped: skipped - measureSkipped });
    const left = await drain();
    return { ...snapshot, leftPending: left, pairs: chosen.length };
  },

  /** Idle authenticated sockets, one user each, spread over `urls`; kept open until closeIdle. */
  async connectIdle({ urls, prefix, from, count, secret, localAddress, concurrency = 100, mode = 'service' }) {
    const users = Array.from({ length: count }, (_, i) => `${prefix}${from + i}`);
    const errors = {};
    let connected = 0;
    const startedAt = Date.now();
    await mapLimit(users, concurrency, async (user, index) => {
      try {
        const auth = mode === 'service' ? { token: signToken(secret, user) } : { room: `idle-${user}`, userId: user };
        idle.push(await connectSocket(urls[index % urls.length], auth, localAddress));
        connected++;
      } catch (error) {
        errors[error.message] = (errors[error.message] ?? 0) + 1;
      }
    });
    return { connected, failed: count - connected, errors, startedAt, finishedAt: Date.now() };
  },

  async idleStillConnected() {
    return { connected: idle.filter((socket) => socket.connected).length, total: idle.length };
  },

  async closeIdle() {
    for (const socket of idle.splice(0)) socket.close();
    return {};
  },

  /** Unary gRPC calls at a fixed concurrency; `requests` are cycled through. */
  async grpcLoad({ address, protoFile, service, method, token, requests, concurrency, warmupMs, durationMs }) {
    const definition = loadSync(protoFile, { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true });
    const [pkg, name] = [service.slice(0, service.lastIndexOf('.')), service.slice(service.lastIndexOf('.') + 1)];
    const namespace = pkg.split('.').reduce((node, part) => node[part], loadPackageDefinition(definition));
    const client = new namespace[name](address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 << 20 });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = (request) =>
      new Promise((resolve, reject) => client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
    const outcome = await timedLoop({ requests, concurrency, warmupMs, durationMs, call, size: (response) => (response.messages ?? response.conversations ?? []).length });
    client.close();
    return outcome;
  },

  /** The same keyset SQL the repositories run, straight through pg: the floor under the gRPC numbers. */
  async sqlLoad({ databaseUrl, requests, concurrency, warmupMs, durationMs }) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency, options: '-c TimeZone=UTC' });
    await Promise.all(Array.from({ length: concurrency }, () => pool.query('SELECT 1')));
    const call = ({ text, values }) => pool.query(text, values);
    const outcome = await timedLoop({ requests, concurrency, warmupMs, durationMs, call, size: (result) => result.rowCount });
    // Kept open until the parent has read the backends' CPU time.
    openPools.push(pool);
    return outcome;
  },

  async closePools() {
    await Promise.all(openPools.splice(0).map((pool) => pool.end()));
    return {};
  },
};

async function timedLoop({ requests, concurrency, warmupMs, durationMs, call, size }) {
  const latencies = new SampleBuffer();
  const errors = {};
  let measuring = false;
  let stop = false;
  let completed = 0;
  let rows = 0;
  let next = Math.floor(Math.random() * requests.length);
  const worker = async () => {
    while (!stop) {
      const request = requests[next++ % requests.length];
      const t0 = performance.now();
      try {
        const response = await call(request);
        const elapsed = performance.now() - t0;
        if (measuring) {
          latencies.push(elapsed);
          completed++;
          rows += size(response);
        }
      } catch (error) {
        const code = String(error.code ?? error.message);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await sleep(warmupMs);
  measuring = true;
  const start = performance.now();
  await sleep(durationMs);
  measuring = false;
  const windowMs = performance.now() - start;
  stop = true;
  await Promise.all(workers);
  return { windowMs, completed, rows, latencies: latencies.take(), errors };
}

process.on('message', async ({ id, cmd, args }) => {
  try {
    const handler = handlers[cmd];
    if (!handler) throw new Error(`unknown command ${cmd}`);
    process.send({ id, ok: true, result: await handler(args) });
  } catch (error) {
    process.send({ id, ok: false, error: error?.stack ?? String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
