import { describe, it } from 'vitest';
import { redisKill } from '../support/scenarios/redis-kill.js';

// Redis down with nothing acknowledged lost is checked in `npm test` by test/e2e/redis-outage.e2e.spec.ts;
// these runs add the load and the latency bounds.
describe('Redis killed under load (chaos)', () => {
  it('a 10 s outage at 200 msg/s: acknowledged and stored throughout, cross-instance delivery back within 5 s', async () => {
    await redisKill({ label: '10 s at 200 msg/s', outageMs: 10_000, pairs: 10, perUserRate: 10 });
  });

  it('a 30 s outage at 200 msg/s: acknowledged and stored throughout, cross-instance delivery back within 5 s', async () => {
    await redisKill({ label: '30 s at 200 msg/s', outageMs: 30_000, pairs: 10, perUserRate: 10 });
  });
});
