import { describe, expect, it } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import { testCleanup } from '../support/cleanup.js';
import { report } from '../support/figures.js';
import { messageText, userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startCluster } from '../support/test-app.js';

const PER_SIDE = 500;
const IN_FLIGHT = 25;

/** How many adjacent pairs of the arrival order go backwards in seq. */
const inversions = (messages: Message[]) => messages.filter((message, index) => index > 0 && message.seq < messages[index - 1]!.seq).length;

/**
 * CONTRACT §3.3, "one order, the order of seq": both participants send at once, each through its own
 * instance, 1,000 messages in all with many in flight. Each recipient must get the other side's
 * messages live in seq order, once each, and the union with what it sent must be 1..1000 with no
 * gap, the same as history. A third socket (bob's second device, on alice's instance) receives
 * both streams, from two instances: its arrival order is measured too; clients place such a merged
 * stream by seq (docs/api.md).
 */
describe('interleaved sends through two instances', () => {
  it('gives each recipient the other side’s 1,000-message stream in seq order with no gaps', async () => {
    const cleanup = testCleanup();
    const cluster = await startCluster(2, { RATE_LIMIT_MESSAGES_PER_SECOND: '100000' });
    cleanup.add(() => cluster.close());
    const clients: TestClient[] = [];
    cleanup.add(() => clients.forEach((client) => client.close()));
    try {
      const [alice, bob] = [userId('alice'), userId('bob')];
      cluster.graph.connect(alice, bob);
      const a = await TestClient.connect(cluster.urls[0]!, await cluster.token(alice));
      const b = await TestClient.connect(cluster.urls[1]!, await cluster.token(bob));
      const bobElsewhere = await TestClient.connect(cluster.urls[0]!, await cluster.token(bob));
      clients.push(a, b, bobElsewhere);
      const { conversationId } = (await a.ok('startConversation', { participantId: bob })).conversation;

      const sendAll = async (client: TestClient, label: string) => {
        const acked: Message[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (next < PER_SIDE) {
              next++;
              acked.push((await client.ok('sendMessage', { conversationId, text: messageText(label) })).message);
            }
          }),
        );
        return acked;
      };
      const started = performance.now();
      const [fromAlice, fromBob] = await Promise.all([sendAll(a, 'alice'), sendAll(b, 'bob')]);
      const sendMs = performance.now() - started;
      expect(fromAlice).toHaveLength(PER_SIDE);
      expect(fromBob).toHaveLength(PER_SIDE);

      const atBob = await b.waitFor('newMessage', undefined, { count: PER_SIDE, timeoutMs: 20_000 });
      const atAlice = await a.waitFor('newMessage', undefined, { count: PER_SIDE, timeoutMs: 20_000 });
      const merged = await bobElsewhere.waitFor('newMessage', undefined, { count: 2 * PER_SIDE, timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Each recipient: exactly the other side's messages, once, in seq order.
      expect(b.events('newMessage')).toHaveLength(PER_SIDE);
      expect(a.events('newMessage')).toHaveLength(PER_SIDE);
      expect(atBob.map((m) => m.messageId).sort()).toEqual(fromAlice.map((m) => m.messageId).sort());
      expect(atAlice.map((m) => m.messageId).sort()).toEqual(fromBob.map((m) => m.messageId).sort());
      expect(inversions(atBob)).toBe(0);
      expect(inversions(atAlice)).toBe(0);
      // No gaps: what each side sent and received covers 1..1000, and history says the same.
      const all = Array.from({ length: 2 * PER_SIDE }, (_, index) => index + 1);
      expect([...fromBob, ...atBob].map((m) => m.seq).sort((x, y) => x - y)).toEqual(all);
      expect([...fromAlice, ...atAlice].map((m) => m.seq).sort((x, y) => x - y)).toEqual(all);
      const history: Message[] = [];
      let cursor: string | undefined;
      do {
        const page = await a.ok('getMessageHistory', { conversationId, pageSize: 100, ...(cursor ? { paginationCursor: cursor } : {}) });
        history.push(...page.messages);
        cursor = page.nextCursor;
      } while (cursor);
      expect(history.map((m) => m.seq).reverse()).toEqual(all);
      // The merged stream: everything, once.
      expect(bobElsewhere.events('newMessage')).toHaveLength(2 * PER_SIDE);
      expect(new Set(merged.map((m) => m.messageId)).size).toBe(2 * PER_SIDE);

      report('interleaving through two instances', {
        messages: 2 * PER_SIDE,
        in_flight_per_side: IN_FLIGHT,
        send_ms: sendMs,
        recipient_inversions: inversions(atBob) + inversions(atAlice),
        seq_gaps: 0,
        merged_stream_inversions: inversions(merged),
        merged_stream_in_seq_order_after_placing_by_seq: [...merged].sort((x, y) => x.seq - y.seq).every((m, index) => m.seq === index + 1),
      });
    } finally {
      await cleanup.run();
    }
  });
});
