import { describe, it } from 'vitest';
import { authorizationProperty } from '../support/scenarios/authorization.js';

// The one home of the authorization property in `npm test`; 1,000 and 10,000 pairs in the chaos suite.
describe('authorization: a property over random user × conversation pairs', () => {
  it('refuses every event and RPC of 150 non-participants, writes 0 rows and leaks 0 events', async () => {
    await authorizationProperty({ pairs: 150, users: 120, conversations: 30 });
  });
});
