import { describe, it } from 'vitest';
import { lostAcks } from '../support/scenarios/lost-acks.js';

describe('lost acknowledgements', () => {
  // 200 here; 1,000 and the 10,000 of the issue run in the chaos suite (test/chaos/lost-acks.spec.ts).
  it('sends retried after their ack was lost store 0 duplicate rows and broadcast nothing twice', async () => {
    await lostAcks({ senders: 10, rounds: 2, perRound: 10 });
  });
});
