import { describe, it } from 'vitest';
import { frozenClient } from '../support/scenarios/frozen-client.js';

describe('a frozen client (chaos)', () => {
  it('is dropped within the default ping window (25 s + 20 s), its typing indicator cleared and its quota slot freed', async () => {
    await frozenClient({ label: 'default ping 25 s + 20 s' });
  });
});
