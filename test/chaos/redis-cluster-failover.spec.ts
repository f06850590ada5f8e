import { describe, it } from 'vitest';
import { redisClusterFailover } from '../support/scenarios/redis-cluster-failover.js';

describe('Redis Cluster master killed under load (chaos)', () => {
  it('acknowledges through the failover, resumes cross-instance delivery within 15 s of the promotion, and loses nothing acknowledged', async () => {
    await redisClusterFailover({ label: '200 msg/s, node timeout 2 s', pairs: 10, perUserRate: 10, nodeTimeoutMs: 2000 });
  });
});
