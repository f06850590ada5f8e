import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { DependencyStates, type DependencyStateLogger } from '../observability/dependency-state.js';

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
 * Every error of a Redis connection goes to its state logger (logged once per change of state,
 * with its cause: a wrong password, a refused connection), and so does its recovery. The listener
 * also keeps ioredis from treating an error as unhandled, which would end the process.
 */
export function reportRedisState(redis: Redis, state: DependencyStateLogger): void {
  redis.on('error', (error: Error) => state.failed(error));
  redis.on('ready', () => state.recovered());
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
      providers: [
        {
          provide: REDIS,
          useFactory: (states: DependencyStates) => (url ? createRedis(url, 'messaging-cache', states.of('redis (messaging-cache)')) : null),
          inject: [DependencyStates],
        },
        RedisShutdown,
      ],
      exports: [REDIS],
    };
  }
}
