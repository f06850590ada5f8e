import { describe, expect, it } from 'vitest';
import { userId } from '../support/factories.js';
import { pollUntil } from '../support/processes.js';
import { handshakeThenReset } from '../support/raw-socket-io.js';
import { TestClient } from '../support/socket-client.js';
import { useApp } from '../support/use-app.js';

/** CONTRACT §3.4: what a hostile client tried (issue 13), each case as it was reproduced. */
describe('socket slots count live sockets only (MAX_SOCKETS_PER_USER=3)', () => {
  const ctx = useApp({ MAX_SOCKETS_PER_USER: '3' });

  it('gives the slot back when the TCP connection resets right after the handshake packet', async () => {
    const user = userId('resetter');
    const token = await ctx.app.token(user);
    // 50 resets, 10 at once, as reported.
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 10 }, () => handshakeThenReset(ctx.url, token)));
    }
    // Every slot comes back: the user can hold the full quota again (polled: the server sees
    // the resets a moment after the client does).
    const sockets = await pollUntil('three sockets for the user', async () => {
      const attempts = await Promise.allSettled(Array.from({ length: 3 }, () => TestClient.connect(ctx.url, token)));
      const connected = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
      if (connected.length === 3) return connected;
      for (const client of connected) client.close();
      return undefined;
    }, 5000, 100);
    for (const client of sockets) ctx.track(client);
    await expect(TestClient.connect(ctx.url, token)).rejects.toThrow('RESOURCE_EXHAUSTED');
  });
});
