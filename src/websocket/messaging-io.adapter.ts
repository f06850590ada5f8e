import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter as createPubSubAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import type { Namespace, Server, ServerOptions, Socket } from 'socket.io';
import type { AppConfig, CorsPolicy } from '../config/config.js';
import type { AckResult } from '../contract/socket-contract.js';
import { DependencyStates } from '../infrastructure/observability/dependency-state.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { reportRedisState } from '../infrastructure/redis/redis.module.js';
import { coalesceWrites } from './coalesced-writes.js';

/** CONTRACT §3: a larger frame closes that one socket. */
export const MAX_FRAME_BYTES = 64 * 1024;

type ClusterAdapter = ReturnType<ReturnType<typeof createPubSubAdapter>> | ReturnType<ReturnType<typeof createStreamsAdapter>>;
type BroadcastOptions = Parameters<ClusterAdapter['broadcast']>[1];

/**
 * Options of every Redis connection of the adapter (docs/operations.md, "Redis outage"):
 * - commands wait in the offline queue until Redis answers again (`maxRetriesPerRequest: null`), so
 *   that subscriptions and the streams adapter's XREAD loop survive an outage of any length
 *   (a SUBSCRIBE dropped at start-up would leave the instance deaf for good);
 * - nothing else piles up there, because broadcasts go local-only while the publishing connection
 *   is not ready, or is open but not answering (see `localWhileRedisIsAway`);
 * - reconnection is retried at least every second, so cross-instance delivery resumes within about
 *   a second of Redis coming back.
 */
const ADAPTER_REDIS_OPTIONS = {
  maxRetriesPerRequest: null,
  enableOfflineQueue: true,
  connectTimeout: 2000,
  retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
} as const;

/**
 * How long the publishing connection's oldest unanswered command may wait before the connection
 * counts as away although it is open (Redis frozen or overloaded, packets dropped on the way), and
 * how many unanswered commands it may hold at most. Either way broadcasts then go local-only, so
 * that the backlog stops growing instead of holding every broadcast for as long as Redis is silent
 * (docs/reliability.md, "Redis frozen").
 */
const PUBLISH_STALL_MS = 1000;
const MAX_UNANSWERED_COMMANDS = 10_000;

/**
 * A connection whose failed commands never become unhandled rejections: the adapters publish
 * fire-and-forget (`pubClient.publish(...)` with nothing attached), and an unhandled rejection ends
 * a Node process. Callers that do await a command still see its error. It also knows which of its
 * commands still wait for an answer, and since when.
 */
class AdapterRedis extends Redis {
  /** Send time of every command still waiting for its reply, in sending order. */
  private readonly unanswered = new Map<number, number>();
  private sent = 0;

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    const result = super.sendCommand(...args);
    if (result instanceof Promise) {
      const id = this.sent++;
      this.unanswered.set(id, performance.now());
      const settle = () => void this.unanswered.delete(id);
      result.then(settle, settle);
    }
    return result;
  }

  get unansweredCommands(): number {
    return this.unanswered.size;
  }

  /** Connected, and answering: no command has waited longer than PUBLISH_STALL_MS, nor too many. */
  get answering(): boolean {
    if (this.status !== 'ready') return false;
    if (this.unanswered.size >= MAX_UNANSWERED_COMMANDS) return false;
    const oldest = this.unanswered.values().next();
    return oldest.done === true || performance.now() - oldest.value < PUBLISH_STALL_MS;
  }
}

/**
 * Socket.IO server options of the contract, and the Redis adapter that makes rooms (and so every
 * broadcast) span all instances when REDIS_URL is set. It also carries the Socket.IO side of
 * shutdown (CONTRACT §7): refusing new events while received ones drain, then closing the
 * connections so that clients reconnect to another instance.
 */
export class MessagingIoAdapter extends IoAdapter {
  private readonly redisClients: AdapterRedis[] = [];
  private readonly servers: Server[] = [];
  private refusing = false;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
    this.httpServer?.on('connection', coalesceWrites);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const server = super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: MAX_FRAME_BYTES,
      pingInterval: this.config.socketPingIntervalMs,
      pingTimeout: this.config.socketPingTimeoutMs,
      cors: this.config.cors.kind === 'any' ? { origin: true, credentials: true } : { origin: this.config.cors.origins, credentials: true },
      allowRequest: (request, callback) => callback(null, isAllowedOrigin(this.config.cors, request.headers.origin)),
    } as ServerOptions) as Server;
    if (this.config.redisUrl) {
      server.adapter(this.redisAdapter(this.config.redisUrl));
      this.app.get(Metrics, { strict: false }).adapterBacklog = () => this.redisClients.reduce((sum, client) => sum + client.unansweredCommands, 0);
    }
    server.of('/').on('connection', (socket: Socket) => socket.use((packet, next) => (this.refusing ? refuse(packet) : next())));
    this.servers.push(server);
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.all(this.redisClients.splice(0).map(closeRedis));
  }

  /**
   * Resolves once every Redis connection of the adapter is ready, or after `timeoutMs` (false then:
   * the instance starts anyway, delivering locally until Redis answers, and readiness says so).
   */
  async redisReady(timeoutMs: number): Promise<boolean> {
    const ready = (client: Redis) =>
      client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      Promise.all(this.redisClients.map(ready)).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Shutdown: every client event from now on is answered UNAVAILABLE (nothing stored; the client retries elsewhere). */
  refuseNewEvents(): void {
    this.refusing = true;
  }

  /**
   * Shutdown: closes every connection of this instance at the transport level. Clients see
   * "transport close" and reconnect by themselves (a server-side disconnect would not make
   * socket.io-client reconnect); writes still buffered (acknowledgements) are flushed first.
   */
  closeConnections(): void {
    for (const server of this.servers) for (const socket of server.of('/').sockets.values()) socket.conn.close();
  }

  private redisAdapter(url: string) {
    const client = (name: string) => {
      const redis = new AdapterRedis(url, { ...ADAPTER_REDIS_OPTIONS, connectionName: name });
      reportRedisState(redis, this.app.get(DependencyStates, { strict: false }).of(`redis (${name})`));
      this.redisClients.push(redis);
      return redis;
    };
    if (this.config.socketAdapter === 'redis-streams') {
      const redis = client('messaging-io-streams');
      return localWhileRedisIsAway(createStreamsAdapter(redis), redis);
    }
    const publisher = client('messaging-io-pub');
    return localWhileRedisIsAway(createPubSubAdapter(publisher, client('messaging-io-sub'), { key: 'messaging.io' }), publisher);
  }
}

/**
 * While the publishing connection is not ready (Redis down, or not reached yet) or not answering
 * (Redis frozen: see PUBLISH_STALL_MS), broadcasts reach
 * this instance's sockets at once and no other instance: other instances' sockets get what they
 * missed through catch-up when they reconnect (CONTRACT §3.3). Without this, the streams adapter
 * would hold even local delivery until its XADD is answered, and either adapter would queue every
 * broadcast in memory for as long as Redis is away. Server-side emits are dropped meanwhile.
 */
function localWhileRedisIsAway(factory: (nsp: Namespace) => ClusterAdapter, publisher: AdapterRedis) {
  // A plain function: Socket.IO calls the adapter constructor with `new`.
  return function (nsp: Namespace): ClusterAdapter {
    const adapter = factory(nsp);
    const broadcast = adapter.broadcast.bind(adapter);
    const serverSideEmit = adapter.serverSideEmit.bind(adapter);
    adapter.broadcast = (packet: unknown, opts: BroadcastOptions) =>
      broadcast(packet, publisher.answering ? opts : { ...opts, flags: { ...opts.flags, local: true } });
    adapter.serverSideEmit = (packet: unknown[]) => {
      if (publisher.answering) return serverSideEmit(packet);
      const ack = packet.at(-1);
      if (typeof ack === 'function') (ack as (error: Error, responses: unknown[]) => void)(new Error('Redis is unreachable'), []);
    };
    return adapter;
  };
}

/**
 * QUIT when Redis answers (what was sent is flushed first); otherwise, or when QUIT gets no answer
 * within a second, just drop the connection. A QUIT queued behind commands that wait for Redis
 * (an UNSUBSCRIBE issued by the adapter's close, say) would otherwise hold shutdown until the hard
 * deadline during a Redis outage.
 */
async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
  client.disconnect();
}

function refuse(packet: unknown[]): void {
  const ack = packet.at(-1);
  const refusal: AckResult<never> = { ok: false, error: { code: 'UNAVAILABLE', message: 'this instance is shutting down; retry' } };
  if (typeof ack === 'function') (ack as (result: AckResult<never>) => void)(refusal);
}

/** Requests without an Origin header come from non-browser clients and are not subject to CORS. */
export function isAllowedOrigin(policy: CorsPolicy, origin: string | undefined): boolean {
  if (origin === undefined || policy.kind === 'any') return true;
  return policy.origins.includes(origin);
}
