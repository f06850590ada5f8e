import { describe, it } from 'vitest';
import { redisKill } from '../support/scenarios/redis-kill.js';

describe('Redis killed under load (chaos)', () => {
  it('a 30 s outage at 200 msg/s: acknowledged and stored throughout, cross-instance delivery back within 5 s', async () => {
    await redisKill({ label: '30 s at 200 msg/s', outageMs: 30_000, pairs: 10, perUserRate: 10 });
  });
});
