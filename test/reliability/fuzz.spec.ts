import { describe, it } from 'vitest';
import { fuzzGateway } from '../support/scenarios/fuzz.js';

describe('the gateway under random and mutated frames', () => {
  // 5,000 frames here: no crash, the contract's shape, oversize frames. The memory bounds need the
  // long runs of the chaos suite (30,000, 100,000 and 300,000 frames, test/chaos/fuzz.spec.ts).
  it('survives them: no crash, every event answered in the contract’s shape, oversize frames close only their socket', async () => {
    await fuzzGateway({ frames: 5000 });
  });
});
