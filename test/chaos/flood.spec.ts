import { describe, it } from 'vitest';
import { flood } from '../support/scenarios/flood.js';

describe('one user flooding (chaos)', () => {
  it('is limited over a minute, and the others’ p99 delivery latency stays within 20 % of its unflooded value', async () => {
    await flood({ label: '1,000 msg/s + 500 typing/s, 2 × 10 windows of 4 s', pairs: 40, perUserRate: 5, floodMessagesPerSecond: 1000, floodTypingPerSecond: 500, windowMs: 4000, rounds: 10, maxP99Ratio: 1.2 });
  });
});
