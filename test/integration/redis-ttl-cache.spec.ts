import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RedisTtlCache } from '../../src/infrastructure/cache/redis-ttl-cache.js';
import { REDIS_URL } from '../support/services.js';

describe('RedisTtlCache on Redis', () => {
  let redis: Redis;
  let prefix: string;
  let cache: RedisTtlCache;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  beforeEach(() => {
    // A prefix of this test's own: nothing it writes can meet another test's keys.
    prefix = `test:ttl-cache:${randomUUID()}:`;
    cache = new RedisTtlCache(redis, prefix);
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  afterAll(async () => {
    await redis?.quit();
  });

  it('gets what was set, under the prefix', async () => {
    await cache.set('alice:bob', 'connected', 60_000);
    expect(await cache.get('alice:bob')).toBe('connected');
    expect(await redis.get(`${prefix}alice:bob`)).toBe('connected');
    await cache.set('alice:bob', 'not-connected', 60_000);
    expect(await cache.get('alice:bob')).toBe('not-connected');
  });

  it('answers undefined for a key never set', async () => {
    expect(await cache.get('missing')).toBeUndefined();
  });

  it('stores the entry with the TTL in Redis and forgets it once the TTL has passed', async () => {
    await cache.set('short', 'v', 200);
    const ttl = await redis.pttl(`${prefix}short`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
    await vi.waitFor(async () => expect(await cache.get('short')).toBeUndefined(), { timeout: 5000, interval: 50 });
    expect(await redis.exists(`${prefix}short`)).toBe(0);
  });

  it('keeps a longer-lived entry while a shorter one expires', async () => {
    await cache.set('short', 's', 100);
    await cache.set('long', 'l', 60_000);
    await vi.waitFor(async () => expect(await cache.get('short')).toBeUndefined(), { timeout: 5000, interval: 50 });
    expect(await cache.get('long')).toBe('l');
  });

  it('stores nothing for a TTL of zero or less', async () => {
    await cache.set('zero', 'v', 0);
    await cache.set('negative', 'v', -5);
    expect(await cache.get('zero')).toBeUndefined();
    expect(await cache.get('negative')).toBeUndefined();
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('keeps caches with different prefixes apart', async () => {
    const otherPrefix = `test:ttl-cache:${randomUUID()}:`;
    const other = new RedisTtlCache(redis, otherPrefix);
    try {
      await cache.set('same-key', 'mine', 60_000);
      await other.set('same-key', 'theirs', 60_000);
      expect(await cache.get('same-key')).toBe('mine');
      expect(await other.get('same-key')).toBe('theirs');
    } finally {
      await redis.del(`${otherPrefix}same-key`);
    }
  });
});
