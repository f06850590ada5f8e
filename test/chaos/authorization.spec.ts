import { describe, it } from 'vitest';
import { authorizationProperty } from '../support/scenarios/authorization.js';

describe('authorization: a property over random user × conversation pairs (chaos)', () => {
  it('refuses every event and RPC of 1,000 non-participants, writes 0 rows and leaks 0 events', async () => {
    await authorizationProperty({ pairs: 1000, users: 400, conversations: 60 });
  });

  it('refuses every event and RPC of 10,000 non-participants, writes 0 rows and leaks 0 events', async () => {
    await authorizationProperty({ pairs: 10_000, users: 2000, conversations: 300 });
  });
});
