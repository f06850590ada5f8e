import { describe, it } from 'vitest';
import { postgresStop } from '../support/scenarios/postgres-stop.js';

describe('PostgreSQL stopped in immediate mode under load', () => {
  it('acknowledges nothing it did not commit, answers UNAVAILABLE during the outage, and recovers within 5 s of its return without a restart', async () => {
    await postgresStop({ label: '5 s at 100 msg/s', outageMs: 5000, pairs: 5, perUserRate: 10 });
  });
});
