import { describe, it } from 'vitest';
import { instanceCrash } from '../support/scenarios/instance-crash.js';

describe('an instance crash (SIGKILL) under load', () => {
  it('loses no acknowledged message, moves clients to the survivor, and every recipient ends with every message once, without gaps', async () => {
    await instanceCrash({ label: '200 msg/s, one kill', pairs: 20, perUserRate: 5, beforeKillMs: 4000, afterKillMs: 6000, kills: 1 });
  });
});
