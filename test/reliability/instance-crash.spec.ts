import { describe, it } from 'vitest';
import { instanceCrash } from '../support/scenarios/instance-crash.js';

describe('an instance crash (SIGKILL) under load', () => {
  // 100 msg/s and a short run here; 200 msg/s, one kill and three kills, in the chaos suite.
  it('loses no acknowledged message, moves clients to the survivor, and every recipient ends with every message once, without gaps', async () => {
    await instanceCrash({ label: '100 msg/s, one kill', pairs: 10, perUserRate: 5, beforeKillMs: 2000, afterKillMs: 3000, kills: 1 });
  });
});
