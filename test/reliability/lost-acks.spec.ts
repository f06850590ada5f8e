import { describe, it } from 'vitest';
import { lostAcks } from '../support/scenarios/lost-acks.js';

describe('lost acknowledgements', () => {
  // 1,000 here; the 10,000 of the issue run in the chaos suite (test/chaos/lost-acks.spec.ts).
  it('sends retried after their ack was lost store 0 duplicate rows and broadcast nothing twice', async () => {
    await lostAcks({ senders: 20, rounds: 2, perRound: 25 });
  });
});
