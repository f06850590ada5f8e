import { describe, it } from 'vitest';
import { postgresStop } from '../support/scenarios/postgres-stop.js';

describe('PostgreSQL stopped in immediate mode under load (chaos)', () => {
  it('a 5 s outage at 100 msg/s: no ack without a commit, UNAVAILABLE throughout, recovery within 5 s', async () => {
    await postgresStop({ label: '5 s at 100 msg/s', outageMs: 5000, pairs: 5, perUserRate: 10 });
  });

  it('a 15 s outage at 200 msg/s: no ack without a commit, UNAVAILABLE throughout, recovery within 5 s', async () => {
    await postgresStop({ label: '15 s at 200 msg/s', outageMs: 15_000, pairs: 10, perUserRate: 10 });
  });
});
