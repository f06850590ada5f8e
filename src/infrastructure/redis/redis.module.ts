import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';

export const REDIS = Symbol('REDIS');
export type OptionalRedis = Redis | null;

/**
 * The shared Redis client for the cache and readiness, or null when REDIS_URL is unset (the
 * in-memory equivalents are used then). Commands fail at once while Redis is unreachable instead
 * of queueing, so callers fall back quickly; the client keeps reconnecting in the background.
 */
export function createRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
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
