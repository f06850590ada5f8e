import { describe, it } from 'vitest';
import { flood } from '../support/scenarios/flood.js';

describe('one user flooding', () => {
  it('is limited, and the others’ p99 delivery latency stays near its unflooded value (measured against 20 %; asserted within 50 % or 5 ms here, 20 % in the chaos suite)', async () => {
    await flood({ label: '1,000 msg/s + 500 typing/s', pairs: 40, perUserRate: 5, floodMessagesPerSecond: 1000, floodTypingPerSecond: 500, windowMs: 1500, rounds: 8, maxP99Ratio: 1.5, maxP99AddedMs: 5 });
  });
});
