import { describe, it } from 'vitest';
import { fuzzGateway } from '../support/scenarios/fuzz.js';

describe('the gateway under random and mutated frames', () => {
  // 30,000 frames here; the chaos suite sends 100,000 and 300,000 (test/chaos/fuzz.spec.ts).
  it('survives them: no crash, every event answered in the contract’s shape, no leak, oversize frames close only their socket', async () => {
    await fuzzGateway({ frames: 30_000 });
  });
});
