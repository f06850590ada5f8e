import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

export const REDIS = Symbol('REDIS');
export type OptionalRedis = Redis | null;

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
export function createRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
  });
  redis.on('error', () => undefined);
  return redis;
}

class RedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: OptionalRedis) {}
  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}

@Global()
@Module({})
export class RedisModule {
  static forRoot(url: string | undefined): DynamicModule {
    return {
      module: RedisModule,
      providers: [{ provide: REDIS, useFactory: () => (url ? createRedis(url, 'messaging-cache') : null) }, RedisShutdown],
      exports: [REDIS],
    };
  }
}
