// One load-generator process (forked by bench/lib/pool.ts). It holds both sockets of each of its
// user pairs, so that a message's emit and its arrival at the recipient are timed on one clock:
// performance.now() of this process. It answers commands from the parent over IPC
// (structured-clone serialization, so latency samples travel as Float64Arrays).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, credentials, type GrpcObject, loadPackageDefinition, Metadata, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { SampleBuffer } from './stats.js';
import { signToken } from './tokens.js';

const GENERATOR = Number(process.env.BENCH_GENERATOR_INDEX ?? 0);
/** About the size of a typical chat line. */
const TEXT = 'Benchmark message: the quick brown fox jumps over the lazy dog. 0123456789';
const MESSAGE_TIMEOUT_MS = 10_000;

type Counts = Record<string, number>;

/** A user pair as the parent describes it: A's socket connects to urlA, B's to urlB. */
export interface PairSpec {
  a: string;
  b: string;
  urlA: string;
  urlB: string;
}

interface Pair {
  a: Socket;
  b: Socket;
  conversationId: string;
  /** 0: A sends next, 1: B. */
  direction: number;
}

interface InFlight {
  pair: Pair;
  t0: number;
  acked: boolean;
  received: boolean;
  failed: boolean;
  measured: boolean;
  closedLoop: boolean;
}

/** An acknowledgement as the service (or the relay) sends it, as far as the generator reads it. */
interface Ack {
  ok?: boolean;
  error?: { code?: string };
  data?: { conversation?: { conversationId: string } };
}

/** What one generator measured in a load phase (closed or open loop). */
export interface LoadPart {
  windowMs: number;
  completed: number;
  sent: number;
  latencies: Float64Array;
  ackLatencies: Float64Array;
  errors: Counts;
  timeouts: number;
  stray: number;
  leftPending: number;
  pairs: number;
  /** Open loop only: messages due in the window, and those not offered because too many were outstanding. */
  offered?: number;
  skipped?: number;
}

/** What one generator measured in a query phase (gRPC or SQL). */
export interface QueryPart {
  windowMs: number;
  completed: number;
  rows: number;
  latencies: Float64Array;
  errors: Counts;
}

/** One statement with its bound values, as pg's `query` takes it. */
export interface SqlRequest {
  text: string;
  values: unknown[];
}

interface QueryPhase<Request> {
  requests: Request[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

interface GrpcResponse {
  messages?: unknown[];
  conversations?: unknown[];
}

interface OpenLoopArgs {
  set: string;
  pairs: number;
  rate: number;
  warmupMs: number;
  durationMs: number;
  maxOutstanding?: number;
}

/** Idle sockets `${prefix}${from}` … `${prefix}${from + count - 1}`, user i on urls[i % urls.length]. */
interface ConnectIdleArgs {
  urls: string[];
  prefix: string;
  from: number;
  count: number;
  /** The JWT secret; the relay needs none. */
  secret?: string;
  localAddress?: string;
  concurrency?: number;
  mode?: 'service' | 'relay';
}

type UnaryCall = (request: object, metadata: Metadata, callback: (error: ServiceError | null, response: GrpcResponse) => void) => void;

const sets = new Map<string, Pair[]>();
const openPools: pg.Pool[] = [];
const idle: Socket[] = [];
const pending = new Map<string, InFlight>();
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
  errors: {} as Counts,
  timeouts: 0,
  stray: 0,
};

function socketOptions(auth: Record<string, string>, localAddress?: string) {
  return {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 60_000,
    ...(localAddress ? { localAddress } : {}),
  };
}

function connectSocket(url: string, auth: Record<string, string>, localAddress?: string): Promise<Socket> {
  // localAddress reaches the WebSocket transport (ws), which the client's option types do not list.
  const socket = io(url, socketOptions(auth, localAddress) as Parameters<typeof io>[1]);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

async function mapLimit<T, R>(items: T[], limit: number, worker: (item: T, index: number) => Promise<R>): Promise<R[]> {
  let next = 0;
  const results = new Array<R>(items.length);
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

function onNewMessage(message: { clientMessageId?: string } | undefined) {
  const clientMessageId = message?.clientMessageId;
  const entry = clientMessageId === undefined ? undefined : pending.get(clientMessageId);
  if (clientMessageId === undefined || !entry || entry.received) {
    run.stray++;
    return;
  }
  const now = performance.now();
  entry.received = true;
  if (entry.measured) run.latencies.push(now - entry.t0);
  if (entry.acked) complete(entry, clientMessageId);
}

function send(pair: Pair, closedLoop: boolean) {
  const from = pair.direction ? pair.b : pair.a;
  pair.direction ^= 1;
  const clientMessageId = `g${GENERATOR}-${++counter}`;
  const entry: InFlight = { pair, t0: 0, acked: false, received: false, failed: false, measured: run.measuring, closedLoop };
  pending.set(clientMessageId, entry);
  if (run.measuring) run.sentInWindow++;
  entry.t0 = performance.now();
  from.emit('sendMessage', { conversationId: pair.conversationId, text: TEXT, clientMessageId }, (result: Ack | undefined) => {
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

function complete(entry: InFlight, clientMessageId: string) {
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

function results(windowMs: number, extra: { offered?: number; skipped?: number } = {}) {
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
  async connectPairs({ set, pairs, mode, secret, concurrency = 50 }: { set: string; pairs: PairSpec[]; mode: 'service' | 'relay'; secret: string; concurrency?: number }) {
    const started = performance.now();
    const connected = await mapLimit(pairs, concurrency, async (spec): Promise<Pair> => {
      const auth = (user: string): Record<string, string> => (mode === 'service' ? { token: signToken(secret, user) } : { room: `room-${spec.a}`, userId: user });
      const [a, b] = await Promise.all([connectSocket(spec.urlA, auth(spec.a)), connectSocket(spec.urlB, auth(spec.b))]);
      for (const socket of [a, b]) socket.on('newMessage', onNewMessage);
      let conversationId = `room-${spec.a}`;
      if (mode === 'service') {
        let result = (await a.timeout(30_000).emitWithAck('startConversation', { participantId: spec.b })) as Ack | undefined;
        // UNAVAILABLE may be retried (CONTRACT §3): a shared, busy machine can miss a Connections deadline.
        for (let attempt = 0; attempt < 5 && result?.ok === false && result.error?.code === 'UNAVAILABLE'; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          result = (await a.timeout(30_000).emitWithAck('startConversation', { participantId: spec.b })) as Ack | undefined;
        }
        if (!result?.ok || !result.data?.conversation) throw new Error(`startConversation ${spec.a}→${spec.b}: ${JSON.stringify(result)}`);
        conversationId = result.data.conversation.conversationId;
      }
      return { a, b, conversationId, direction: 0 };
    });
    sets.set(set, connected);
    return { pairs: connected.length, ms: performance.now() - started };
  },

  async closeSet({ set }: { set: string }) {
    for (const pair of sets.get(set) ?? []) {
      pair.a.close();
      pair.b.close();
    }
    sets.delete(set);
    return {};
  },

  /** Each of the first `pairs` pairs keeps `inflight` messages outstanding: send, await ack and arrival, send again. */
  async closedLoop({ set, pairs, inflight, warmupMs, durationMs }: { set: string; pairs: number; inflight: number; warmupMs: number; durationMs: number }): Promise<LoadPart> {
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
  async openLoop({ set, pairs, rate, warmupMs, durationMs, maxOutstanding = 20_000 }: OpenLoopArgs): Promise<LoadPart> {
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
    await new Promise<void>((resolve) => {
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
  async connectIdle({ urls, prefix, from, count, secret, localAddress, concurrency = 100, mode = 'service' }: ConnectIdleArgs) {
    const users = Array.from({ length: count }, (_, i) => `${prefix}${from + i}`);
    const errors: Counts = {};
    let connected = 0;
    const startedAt = Date.now();
    await mapLimit(users, concurrency, async (user, index) => {
      try {
        const auth: Record<string, string> = mode === 'service' ? { token: signToken(secret ?? '', user) } : { room: `idle-${user}`, userId: user };
        idle.push(await connectSocket(urls[index % urls.length], auth, localAddress));
        connected++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        errors[message] = (errors[message] ?? 0) + 1;
      }
    });
    return { connected, failed: count - connected, errors, startedAt, finishedAt: Date.now() };
  },

  async idleStillConnected(_: Record<string, never>) {
    return { connected: idle.filter((socket) => socket.connected).length, total: idle.length };
  },

  async closeIdle(_: Record<string, never>) {
    for (const socket of idle.splice(0)) socket.close();
    return {};
  },

  /** Unary gRPC calls at a fixed concurrency; `requests` are cycled through. */
  async grpcLoad({
    address,
    protoFile,
    service,
    method,
    token,
    ...phase
  }: QueryPhase<object> & { address: string; protoFile: string; service: string; method: string; token: string }): Promise<QueryPart> {
    const definition = loadSync(protoFile, { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true });
    const [pkg, name] = [service.slice(0, service.lastIndexOf('.')), service.slice(service.lastIndexOf('.') + 1)];
    const namespace = pkg.split('.').reduce((node, part) => node[part] as GrpcObject, loadPackageDefinition(definition));
    const Service = namespace[name] as ServiceClientConstructor;
    const client: Client = new Service(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 << 20 });
    const unary = (client as unknown as Record<string, UnaryCall>)[method].bind(client);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = (request: object) => new Promise<GrpcResponse>((resolve, reject) => unary(request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
    const outcome = await timedLoop({ ...phase, call, size: (response) => (response.messages ?? response.conversations ?? []).length });
    client.close();
    return outcome;
  },

  /** The same keyset SQL the repositories run, straight through pg: the floor under the gRPC numbers. */
  async sqlLoad({ databaseUrl, ...phase }: QueryPhase<SqlRequest> & { databaseUrl: string }): Promise<QueryPart> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: phase.concurrency, options: '-c TimeZone=UTC' });
    await Promise.all(Array.from({ length: phase.concurrency }, () => pool.query('SELECT 1')));
    const call = ({ text, values }: SqlRequest) => pool.query(text, values);
    const outcome = await timedLoop({ ...phase, call, size: (result) => result.rowCount ?? 0 });
    // Kept open until the parent has read the backends' CPU time.
    openPools.push(pool);
    return outcome;
  },

  async closePools(_: Record<string, never>) {
    await Promise.all(openPools.splice(0).map((pool) => pool.end()));
    return {};
  },
};

/** The commands the parent sends (bench/lib/pool.ts types its calls by them). */
export type Commands = typeof handlers;

async function timedLoop<Request, Response>({
  requests,
  concurrency,
  warmupMs,
  durationMs,
  call,
  size,
}: QueryPhase<Request> & { call: (request: Request) => Promise<Response>; size: (response: Response) => number }): Promise<QueryPart> {
  const latencies = new SampleBuffer();
  const errors: Counts = {};
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
        const { code: errorCode, message } = error as { code?: unknown; message?: unknown };
        const code = String(errorCode ?? message);
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

function reply(message: object) {
  if (!process.send) throw new Error('the load generator runs forked, with an IPC channel (bench/lib/pool.ts)');
  process.send(message);
}

process.on('message', async ({ id, cmd, args }: { id: number; cmd: string; args: never }) => {
  try {
    if (!Object.hasOwn(handlers, cmd)) throw new Error(`unknown command ${cmd}`);
    const handler = handlers[cmd as keyof Commands] as (args: never) => Promise<unknown>;
    reply({ id, ok: true, result: await handler(args) });
  } catch (error) {
    reply({ id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
reply({ ready: true });
