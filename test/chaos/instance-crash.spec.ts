import { describe, it } from 'vitest';
import { instanceCrash } from '../support/scenarios/instance-crash.js';

describe('instance crashes under load (chaos)', () => {
  it('one SIGKILL at 200 msg/s: 0 acknowledged messages lost, clients moved to the survivor, every recipient complete', async () => {
    await instanceCrash({ label: '200 msg/s, one kill', pairs: 20, perUserRate: 5, beforeKillMs: 4000, afterKillMs: 6000, kills: 1 });
  });

  it('three SIGKILLs at 200 msg/s, a fresh instance after each: 0 acknowledged messages lost, every recipient complete', async () => {
    await instanceCrash({ label: '200 msg/s, three kills with restarts', pairs: 20, perUserRate: 5, beforeKillMs: 8000, afterKillMs: 8000, kills: 3 });
  });
});
