import type { Redis } from 'ioredis';
import type { TtlCache } from './ttl-cache.js';

export class RedisTtlCache implements TtlCache {
  constructor(
    private readonly redis: Redis,
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
