import { createAdapter as createPubSubAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Namespace } from 'socket.io';
import { CLUSTER_SLOTS_REFRESH_MS } from '../infrastructure/redis/redis.module.js';

/**
 * The Socket.IO Redis adapter's connections and their fault handling (docs/operations.md, "Redis
 * outage"; docs/reliability.md, "Redis frozen"). Two things here lean on upstream behaviour, each
 * checked by test/integration/redis-adapter.spec.ts: every ioredis command passes through
 * `sendCommand` (AdapterRedis counts the unanswered ones), and the adapters' `broadcast(packet,
 * opts)` publishes nothing when `opts.flags.local` is set (localWhileRedisIsAway).
 */

type ClusterAdapter =
  | ReturnType<ReturnType<typeof createPubSubAdapter>>
  | ReturnType<ReturnType<typeof createStreamsAdapter>>
  | ReturnType<ReturnType<typeof createShardedAdapter>>;
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
 * The commands of one connection still waiting for their reply, and since when. It also keeps
 * failed commands from becoming unhandled rejections: the adapters publish fire-and-forget
 * (`pubClient.publish(...)` with nothing attached), and an unhandled rejection ends a Node process.
 * Callers that do await a command still see its error.
 */
class UnansweredCommands {
  /** Send time of every command still waiting for its reply, in sending order. */
  private readonly sentAt = new Map<number, number>();
  private sent = 0;

  track<T>(result: T): T {
    if (result instanceof Promise) {
      const id = this.sent++;
      this.sentAt.set(id, performance.now());
      const settle = () => void this.sentAt.delete(id);
      result.then(settle, settle);
    }
    return result;
  }

  get size(): number {
    return this.sentAt.size;
  }

  /** No command has waited longer than PUBLISH_STALL_MS, nor too many. */
  get flowing(): boolean {
    if (this.sentAt.size >= MAX_UNANSWERED_COMMANDS) return false;
    const oldest = this.sentAt.values().next();
    return oldest.done === true || performance.now() - oldest.value < PUBLISH_STALL_MS;
  }
}

/** What the adapter's fault handling needs of a connection, on one Redis or on a Redis Cluster. */
export interface AdapterConnection {
  readonly unansweredCommands: number;
  /** Connected, and answering: no command has waited longer than PUBLISH_STALL_MS, nor too many. */
  readonly answering: boolean;
}

/** A connection to one Redis that knows which of its commands still wait for an answer. */
export class AdapterRedis extends Redis implements AdapterConnection {
  private readonly unanswered = new UnansweredCommands();
  /** Told of each connection `duplicate()` opens, and handed on to it: its errors must be reported too. */
  onDuplicate: ((copy: AdapterRedis) => void) | undefined;

  /**
   * The streams adapter opens its subscriber and its stream reader with `duplicate()`, and leaves
   * their SUBSCRIBE unobserved, as ioredis leaves the SUBSCRIBE it sends again after a
   * reconnection. On a plain Redis, such a command still unanswered when the adapter closes the
   * connection (an instance shutting down just as Redis came back) rejects with "Connection is
   * closed." and nothing handles it. The copies are AdapterRedis, whose commands are all tracked.
   */
  override duplicate<Override extends Partial<RedisOptions> | undefined = undefined>(override?: Override): ReturnType<Redis['duplicate']> {
    // Legacy reply shapes, as this connection's (the adapters parse those).
    const copy = new AdapterRedis({ ...this.options, ...override, replyMapping: 'legacy' });
    copy.onDuplicate = this.onDuplicate;
    this.onDuplicate?.(copy);
    return copy;
  }

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    return this.unanswered.track(super.sendCommand(...args));
  }

  get unansweredCommands(): number {
    return this.unanswered.size;
  }

  get answering(): boolean {
    return this.status === 'ready' && this.unanswered.flowing;
  }
}

/**
 * The same on a Redis Cluster. The cluster client stays ready while one master is gone (until its
 * replica takes over); SPUBLISHes to that master's slots then wait or fail, and the stall check
 * takes the instance to local-only broadcasts until they flow again.
 */
export class AdapterCluster extends Cluster implements AdapterConnection {
  private readonly unanswered = new UnansweredCommands();

  override sendCommand(...args: Parameters<Cluster['sendCommand']>): unknown {
    return this.unanswered.track(super.sendCommand(...args));
  }

  get unansweredCommands(): number {
    return this.unanswered.size;
  }

  get answering(): boolean {
    return this.status === 'ready' && this.unanswered.flowing;
  }
}

/**
 * The adapter factory for `server.adapter()`: pub/sub (`redis`) or streams (`redis-streams`) on new
 * AdapterRedis connections, each handed to `onClient` (for error reporting, readiness and shutdown).
 */
export function redisAdapter(url: string, kind: 'redis' | 'redis-streams', onClient: (redis: AdapterRedis, name: string) => void) {
  const client = (name: string) => {
    const redis = new AdapterRedis(url, { ...ADAPTER_REDIS_OPTIONS, connectionName: name });
    onClient(redis, name);
    return redis;
  };
  if (kind === 'redis-streams') {
    const redis = client('messaging-io-streams');
    return localWhileRedisIsAway(createStreamsAdapter(redis), redis);
  }
  const publisher = client('messaging-io-pub');
  return localWhileRedisIsAway(createPubSubAdapter(publisher, client('messaging-io-sub'), { key: 'messaging.io' }), publisher);
}

/**
 * The adapter factory on a Redis Cluster: sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis ≥ 7).
 * Each user room is a channel of its own ("dynamic" subscription mode), hashed to one shard: an
 * instance subscribes to the rooms of the users it holds sockets of, so a broadcast to one user
 * reaches only the instances that hold that user, through one master. The subscribing client keeps
 * one connection per master (ioredis' `shardedSubscribers`) and moves the subscriptions of a failed
 * master to its promoted replica. Both clients use ADAPTER_REDIS_OPTIONS on every node.
 */
export function redisClusterAdapter(
  nodes: ClusterNode[],
  auth: Pick<NonNullable<ClusterOptions['redisOptions']>, 'username' | 'password' | 'tls'>,
  onClient: (redis: AdapterCluster, name: string) => void,
) {
  const client = (name: string, options: ClusterOptions = {}) => {
    const cluster = new AdapterCluster(nodes, {
      ...options,
      enableOfflineQueue: true,
      slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
      clusterRetryStrategy: ADAPTER_REDIS_OPTIONS.retryStrategy,
      redisOptions: { ...auth, ...ADAPTER_REDIS_OPTIONS, connectionName: name },
    });
    onClient(cluster, name);
    return cluster;
  };
  const publisher = client('messaging-io-spub');
  const subscriber = client('messaging-io-ssub', { shardedSubscribers: true });
  const factory = localWhileRedisIsAway(createShardedAdapter(publisher, subscriber, { channelPrefix: SHARDED_CHANNEL_PREFIX, subscriptionMode: 'dynamic' }), publisher);
  return function (nsp: Namespace): ClusterAdapter & RoomSubscriptions {
    // The adapter subscribes to a room's channel when the room is created, without waiting for
    // the answer; a second SSUBSCRIBE of the same channel is answered once it is subscribed.
    return Object.assign(factory(nsp), {
      whenSubscribed: (room: string) => subscriber.ssubscribe(shardedRoomChannel(nsp.name, room)).then(() => undefined),
    });
  };
}

const SHARDED_CHANNEL_PREFIX = 'messaging.io';

/** The shard channel of a room in the sharded adapter's "dynamic" mode (test/integration/redis-adapter.spec.ts checks it). */
export function shardedRoomChannel(namespace: string, room: string): string {
  return `${SHARDED_CHANNEL_PREFIX}#${namespace}#${room}#`;
}

/**
 * An adapter whose rooms are subscribed one by one (the sharded one): a room joined on this
 * instance hears other instances' broadcasts only once `whenSubscribed` has resolved.
 */
export interface RoomSubscriptions {
  whenSubscribed(room: string): Promise<void>;
}

/** Resolves true once every client is ready, or false after `timeoutMs`. */
export async function allReady(clients: (Redis | Cluster)[], timeoutMs: number): Promise<boolean> {
  const ready = (client: Redis | Cluster) => (client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve())));
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    Promise.all(clients.map(ready)).then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  return result;
}

/**
 * While the publishing connection is not ready (Redis down, or not reached yet) or not answering
 * (Redis frozen: see PUBLISH_STALL_MS), broadcasts reach
 * this instance's sockets at once and no other instance: other instances' sockets get what they
 * missed through catch-up when they reconnect (CONTRACT §3.3). Without this, the streams adapter
 * would hold even local delivery until its XADD is answered, and either adapter would queue every
 * broadcast in memory for as long as Redis is away. Server-side emits are dropped meanwhile.
 */
export function localWhileRedisIsAway(factory: (nsp: Namespace) => ClusterAdapter, publisher: AdapterConnection) {
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
export async function closeRedis(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
  client.disconnect();
}
