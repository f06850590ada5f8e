import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate', () => {
    const time = clock();
    const limiter = new RateLimiter(10, 20, time.now);
    const burst = Array.from({ length: 25 }, () => limiter.tryTake('alice'));
    expect(burst.filter(Boolean)).toHaveLength(20);
    time.advance(1000);
    const nextSecond = Array.from({ length: 15 }, () => limiter.tryTake('alice'));
    expect(nextSecond.filter(Boolean)).toHaveLength(10);
  });

  it('keeps users apart', () => {
    const limiter = new RateLimiter(1, 1, clock().now);
    expect(limiter.tryTake('alice')).toBe(true);
    expect(limiter.tryTake('alice')).toBe(false);
    expect(limiter.tryTake('bob')).toBe(true);
  });

  it('refills fully after a quiet period', () => {
    const time = clock();
    const limiter = new RateLimiter(5, 10, time.now);
    for (let i = 0; i < 10; i++) limiter.tryTake('alice');
    expect(limiter.tryTake('alice')).toBe(false);
    time.advance(60_000);
    const again = Array.from({ length: 12 }, () => limiter.tryTake('alice'));
    expect(again.filter(Boolean)).toHaveLength(10);
  });
});
