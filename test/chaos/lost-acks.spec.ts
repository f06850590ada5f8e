import { describe, it } from 'vitest';
import { lostAcks } from '../support/scenarios/lost-acks.js';

describe('lost acknowledgements (chaos)', () => {
  it('1,000 sends retried after their ack was lost store 0 duplicate rows and broadcast nothing twice', async () => {
    await lostAcks({ senders: 20, rounds: 2, perRound: 25 });
  });

  it('10,000 sends retried after their ack was lost store 0 duplicate rows and broadcast nothing twice', async () => {
    await lostAcks({ senders: 50, rounds: 4, perRound: 50 });
  });
});
