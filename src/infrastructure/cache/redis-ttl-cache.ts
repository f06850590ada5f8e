import type { Cluster, Redis } from 'ioredis';
import type { TtlCache } from './ttl-cache.js';

/**
 * One key per entry and single-key commands only, so that on a Redis Cluster each entry lives in its
 * own slot and nothing needs a hash tag (no command here spans two keys).
 */
export class RedisTtlCache implements TtlCache {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    await this.redis.set(this.prefix + key, value, 'PX', ttlMs);
  }
}
