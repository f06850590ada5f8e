import { describe, it } from 'vitest';
import { fuzzGateway } from '../support/scenarios/fuzz.js';

describe('the gateway under random and mutated frames (chaos)', () => {
  it('survives 30,000 frames: no crash, every event answered in the contract’s shape, no leak, oversize frames close only their socket', async () => {
    await fuzzGateway({ frames: 30_000 });
  });

  it('survives 100,000 frames: no crash, every event answered in the contract’s shape, no leak, oversize frames close only their socket', async () => {
    await fuzzGateway({ frames: 100_000 });
  });

  it('survives 300,000 frames with the live heap flat', async () => {
    await fuzzGateway({ frames: 300_000 });
  });
});
