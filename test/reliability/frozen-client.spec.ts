import { describe, it } from 'vitest';
import { frozenClient } from '../support/scenarios/frozen-client.js';

describe('a frozen client', () => {
  // A 1 s + 1 s ping window here; the chaos suite runs the defaults (25 s + 20 s).
  it('is dropped within the ping window, its typing indicator cleared and its quota slot freed', async () => {
    await frozenClient({ label: 'ping 1 s + 1 s', pingIntervalMs: 1000, pingTimeoutMs: 1000 });
  });
});
