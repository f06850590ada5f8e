import { describe, it } from 'vitest';
import { redisKill } from '../support/scenarios/redis-kill.js';

describe('Redis killed under load', () => {
  it('acknowledges and stores through a 10 s outage, and cross-instance delivery is back within 5 s of its return', async () => {
    await redisKill({ label: '10 s at 200 msg/s', outageMs: 10_000, pairs: 10, perUserRate: 10 });
  });
});
