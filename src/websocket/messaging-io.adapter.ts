import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions, Socket } from 'socket.io';
import type { AppConfig, CorsPolicy } from '../config/config.js';
import type { AckResult } from '@platform/messaging-client/contract';
import { DependencyStates } from '../infrastructure/observability/dependency-state.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { clusterSeeds, reportRedisState } from '../infrastructure/redis/redis.module.js';
import { coalesceWrites } from './coalesced-writes.js';
import { AdapterRedis, allReady, closeRedis, redisAdapter, redisClusterAdapter, type AdapterCluster } from './redis-adapter.js';

/** CONTRACT §3: a larger frame closes that one socket. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Socket.IO server options of the contract, and the Redis adapter that makes rooms (and so every
 * broadcast) span all instances when REDIS_URL (or REDIS_CLUSTER_URLS: sharded pub/sub) is set. It also carries the Socket.IO side of
 * shutdown (CONTRACT §7): refusing new events while received ones drain, then closing the
 * connections so that clients reconnect to another instance.
 */
export class MessagingIoAdapter extends IoAdapter {
  private readonly redisClients: (AdapterRedis | AdapterCluster)[] = [];
  private readonly servers: Server[] = [];
  private refusing = false;
  /** Every packet of every socket passes here first: one shared function, not one per socket. */
  private readonly gate = (packet: unknown[], next: (error?: Error) => void): void => (this.refusing ? refuse(packet) : next());

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
    if (this.config.redisUrl || this.config.redisClusterUrls) {
      server.adapter(this.redisAdapter());
      this.app.get(Metrics, { strict: false }).adapterBacklog = () => this.redisClients.reduce((sum, client) => sum + client.unansweredCommands, 0);
    }
    server.of('/').on('connection', (socket: Socket) => socket.use(this.gate));
    this.servers.push(server);
    return server;
  }

  /**
   * Nothing to bind: MessagingGateway registers its own listeners. Nest's implementation would
   * still keep a `disconnect$` Observable chain per socket for the socket's life (about 0.5 KiB).
   */
  override bindMessageHandlers(): void {}

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.all(this.redisClients.splice(0).map(closeRedis));
  }

  /**
   * Resolves once every Redis connection of the adapter is ready, or after `timeoutMs` (false then:
   * the instance starts anyway, delivering locally until Redis answers, and readiness says so).
   */
  redisReady(timeoutMs: number): Promise<boolean> {
    return allReady(this.redisClients, timeoutMs);
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

  private redisAdapter() {
    const states = this.app.get(DependencyStates, { strict: false });
    const onClient = (redis: AdapterRedis | AdapterCluster, name: string) => {
      reportRedisState(redis, states.of(`redis (${name})`));
      this.redisClients.push(redis);
      // The streams adapter's own connections (its subscriber and stream reader) report their
      // errors too; the adapter closes them itself, and the reader's blocking XREAD is no backlog.
      if (redis instanceof AdapterRedis) redis.onDuplicate = (copy) => reportRedisState(copy, states.of(`redis (${name}, duplicated)`));
    };
    if (this.config.redisClusterUrls) {
      const { nodes, ...auth } = clusterSeeds(this.config.redisClusterUrls);
      return redisClusterAdapter(nodes, auth, onClient);
    }
    return redisAdapter(this.config.redisUrl!, this.config.socketAdapter, onClient);
  }
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
