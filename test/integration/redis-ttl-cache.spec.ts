import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RedisTtlCache } from '../../src/infrastructure/cache/redis-ttl-cache.js';
import { pollUntil } from '../support/processes.js';
import { startRedisCluster } from '../support/redis-cluster.mjs';
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

describe('RedisTtlCache on a Redis Cluster whose master is frozen', () => {
  it('fails a read after its deadline although the cluster client would go on retrying, and reads again once the master answers', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: 60_000 });
    // No per-command timeout on this client: only the cache's deadline bounds the read.
    const client = new Cluster(
      cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1 } },
    );
    const prefix = `test:ttl-cache:${randomUUID()}:`;
    const cache = new RedisTtlCache(client, prefix, 200);
    const master = await cluster.masterOf(`${prefix}entry`);
    try {
      await pollUntil('the cluster client', () => (client.status === 'ready' ? true : undefined));
      await cache.set('entry', 'v', 60_000);
      expect(await cache.get('entry')).toBe('v');
      cluster.signal(master, 'SIGSTOP');
      const started = performance.now();
      await expect(cache.get('entry')).rejects.toThrow('did not answer within 200 ms');
      expect(performance.now() - started).toBeLessThan(1000);
      cluster.signal(master, 'SIGCONT');
      await vi.waitFor(async () => expect(await cache.get('entry')).toBe('v'), { timeout: 10_000, interval: 100 });
    } finally {
      cluster.signal(master, 'SIGCONT');
      client.disconnect();
      await cluster.stop();
    }
  });
});
