import { describe, it } from 'vitest';
import { redisFreeze } from '../support/scenarios/redis-freeze.js';

describe('Redis frozen (SIGSTOP) under load (chaos)', () => {
  it('30 s at 200 msg/s: send p99 under 500 ms, event-loop lag under 100 ms, a bounded backlog, nothing lost', async () => {
    await redisFreeze({ label: '30 s', freezeMs: 30_000, pairs: 10, perUserRate: 10, cacheTtlSeconds: 10 });
  });
});
