import type { CarefulClient } from '../careful-client.js';
import { sleep } from '../figures.js';
import { messageText } from '../factories.js';

export interface PacedLoad {
  /** Stops offering new sends and waits for every sender's loop to end. */
  stop(): Promise<void>;
}

/**
 * Each client of each pair sends `perUserRate` messages a second into its conversation, on a
 * schedule of its own (started at a random offset, so that the load is spread evenly), whatever the
 * answers do: a fault shows as slow or refused sends, not as a slower load. `onSend` sees each send's
 * promise and when it was offered.
 */
export function pacedSends(
  pairs: ReadonlyArray<{ conversationId: string; a: CarefulClient; b: CarefulClient }>,
  perUserRate: number,
  onSend: (sent: Promise<unknown>, startedAt: number) => void = (sent) => void sent.catch(() => undefined),
): PacedLoad {
  let loading = true;
  const intervalMs = 1000 / perUserRate;
  const loops = pairs.flatMap(({ conversationId, a, b }) =>
    [a, b].map(async (client, side) => {
      await sleep(Math.random() * intervalMs + side * (intervalMs / 2));
      const first = performance.now();
      for (let tick = 1; loading; tick++) {
        onSend(client.send(conversationId, messageText('load')), performance.now());
        await sleep(Math.max(0, first + tick * intervalMs - performance.now()));
      }
    }),
  );
  return {
    async stop() {
      loading = false;
      await Promise.all(loops);
    },
  };
}
