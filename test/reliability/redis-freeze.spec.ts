import { describe, it } from 'vitest';
import { redisFreeze } from '../support/scenarios/redis-freeze.js';

describe('Redis frozen (SIGSTOP) under load', () => {
  // 6 s here, with cached Connections answers expiring during it; 30 s in the chaos suite.
  it('keeps acknowledging fast from the database, keeps event loops responsive, and bounds the adapter backlog', async () => {
    await redisFreeze({ label: '6 s', freezeMs: 6000, pairs: 10, perUserRate: 10, cacheTtlSeconds: 3 });
  });
});
