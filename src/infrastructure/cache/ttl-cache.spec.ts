import { describe, expect, it } from 'vitest';
import { MemoryTtlCache } from './ttl-cache.js';

describe('MemoryTtlCache', () => {
  it('forgets entries once their ttl has passed', async () => {
    let now = 0;
    const cache = new MemoryTtlCache(10, () => now);
    await cache.set('k', 'v', 100);
    now = 99;
    expect(await cache.get('k')).toBe('v');
    now = 100;
    expect(await cache.get('k')).toBeUndefined();
  });

  it('stores nothing with a zero ttl', async () => {
    const cache = new MemoryTtlCache();
    await cache.set('k', 'v', 0);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('stays within its capacity', async () => {
    const cache = new MemoryTtlCache(2);
    await cache.set('a', '1', 1000);
    await cache.set('b', '2', 1000);
    await cache.set('c', '3', 1000);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('c')).toBe('3');
  });
});
