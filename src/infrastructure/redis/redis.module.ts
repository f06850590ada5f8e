import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.js';
import { Cluster, Redis } from 'ioredis';
import { DependencyStates, type DependencyStateLogger } from '../observability/dependency-state.js';

export const REDIS = Symbol('REDIS');
/** One Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_URLS): the same commands on either. */
export type SharedRedis = Redis | Cluster;
export type OptionalRedis = SharedRedis | null;

/**
 * A Redis that is connected but does not answer (frozen, overloaded, a network path that drops
 * packets) fails a command after this long, so that the cache is skipped instead of holding a send
 * for as long as Redis is away (docs/reliability.md, "Redis frozen"). Redis answers in well under
 * a millisecond normally.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 200;

/**
 * The shared Redis client for the cache and readiness, or null when REDIS_URL is unset (the
 * in-memory equivalents are used then). Commands fail at once while Redis is unreachable instead
 * of queueing, and after REDIS_COMMAND_TIMEOUT_MS while it does not answer, so callers fall back
 * quickly; the client keeps reconnecting in the background.
 */
export function createRedis(url: string, name: string, state: DependencyStateLogger): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
  });
  reportRedisState(redis, state);
  return redis;
}

/**
 * How often a cluster client re-reads the cluster's topology by itself: after a failover, commands
 * reach the promoted replica within about this long even when nothing redirected them there yet.
 */
export const CLUSTER_SLOTS_REFRESH_MS = 1000;

/** Seed URLs (redis://host:port) as ioredis' startup nodes; credentials of the first seed apply to every node. */
export function clusterSeeds(urls: string[]): { nodes: { host: string; port: number }[]; username?: string; password?: string; tls?: object } {
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0]!;
  return {
    nodes: parsed.map((url) => ({ host: url.hostname, port: Number(url.port || 6379) })),
    username: first.username ? decodeURIComponent(first.username) : undefined,
    password: first.password ? decodeURIComponent(first.password) : undefined,
    tls: first.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * The cache and readiness client on a Redis Cluster: the same fail-fast behaviour as createRedis
 * (no offline queue, one retry, REDIS_COMMAND_TIMEOUT_MS per command), per node.
 */
export function createRedisCluster(urls: string[], name: string, state: DependencyStateLogger): Cluster {
  const { nodes, ...auth } = clusterSeeds(urls);
  const cluster = new Cluster(nodes, {
    enableOfflineQueue: false,
    slotsRefreshInterval: CLUSTER_SLOTS_REFRESH_MS,
    clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    redisOptions: { ...auth, connectionName: name, maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS, connectTimeout: 2000 },
  });
  reportRedisState(cluster, state);
  return cluster;
}

/**
 * A connection of its own for SUBSCRIBE (a subscribed connection takes no other command), on one
 * Redis or a Redis Cluster alike (a cluster's PUBLISH reaches the subscribers of every node). It
 * queues while disconnected and has no command timeout: a subscription waits for its messages.
 */
export function subscriberOf(redis: SharedRedis, connectionName: string): SharedRedis {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, { enableOfflineQueue: true, redisOptions: { ...redis.options.redisOptions, commandTimeout: undefined, connectionName } });
  }
  return redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, connectionName });
}

/**
 * Every error of a Redis connection goes to its state logger (logged once per change of state,
 * with its cause: a wrong password, a refused connection), and so does its recovery. The listener
 * also keeps ioredis from treating an error as unhandled, which would end the process.
 */
export function reportRedisState(redis: SharedRedis, state: DependencyStateLogger): void {
  redis.on('error', (error: Error) => state.failed(error));
  redis.on('ready', () => state.recovered());
  if (redis instanceof Cluster) {
    // A cluster client stays ready while one node fails (a master killed, until its replica takes
    // over): that node's errors come as 'node error', and a topology read that succeeds afterwards
    // ('refresh', every CLUSTER_SLOTS_REFRESH_MS) is the recovery.
    redis.on('node error', (error: Error) => state.failed(error));
    redis.on('refresh', () => state.recovered());
  }
}

/**
 * One Redis answers a PING. A Redis Cluster answers when every master the client knows answers and
 * says cluster_state:ok (every slot served): a killed master fails the probe until its replica has
 * taken over and the client has moved to it.
 */
export async function redisAnswers(redis: SharedRedis): Promise<void> {
  if (!(redis instanceof Cluster)) {
    await redis.ping();
    return;
  }
  const masters = redis.nodes('master');
  if (masters.length === 0) throw new Error('no Redis Cluster master reachable');
  const states = await Promise.all(masters.map((node) => node.cluster('INFO')));
  const failing = states.find((info) => !/^cluster_state:ok\b/m.test(info));
  if (failing !== undefined) throw new Error(`Redis Cluster ${/^cluster_state:\w+/m.exec(failing)?.[0] ?? 'state unknown'}`);
}

class RedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: OptionalRedis) {}
  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}

/**
 * The shared Redis client (REDIS_URL or REDIS_CLUSTER_URLS; null without either), imported by what
 * uses it: the Connections cache and readiness. The Socket.IO adapter makes its own connections.
 */
@Module({
  providers: [
    {
      provide: REDIS,
      useFactory: (config: AppConfig, states: DependencyStates): OptionalRedis => {
        const state = states.of('redis (messaging-cache)');
        if (config.redisClusterUrls) return createRedisCluster(config.redisClusterUrls, 'messaging-cache', state);
        return config.redisUrl ? createRedis(config.redisUrl, 'messaging-cache', state) : null;
      },
      inject: [APP_CONFIG, DependencyStates],
    },
    RedisShutdown,
  ],
  exports: [REDIS],
})
export class RedisModule {}
