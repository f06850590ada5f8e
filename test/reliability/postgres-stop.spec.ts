import { describe, it } from 'vitest';
import { postgresStop } from '../support/scenarios/postgres-stop.js';

describe('PostgreSQL stopped in immediate mode under load', () => {
  // 3 s at 60 msg/s here; 5 s at 100 msg/s and 15 s at 200 msg/s in the chaos suite.
  it('acknowledges nothing it did not commit, answers UNAVAILABLE during the outage, and recovers without a restart', async () => {
    await postgresStop({ label: '3 s at 60 msg/s', outageMs: 3000, pairs: 3, perUserRate: 10 });
  });
});
