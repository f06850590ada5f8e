import { describe, expect, it } from 'vitest';
import { testCleanup } from '../support/cleanup.js';
import { conversationOn, expectAllInOrder, setUpEventFaults } from '../support/events-faults.js';
import { report, sample, scrape } from '../support/figures.js';
import { messageText } from '../support/factories.js';
import { eventsOf, useNatsRecorder } from '../support/nats.js';
import { pollUntil } from '../support/processes.js';
import type { ReadyService } from '../support/service-process.js';

/**
 * CONTRACT §8's guarantees under faults, with the service as a real process on a database of its
 * own and NATS behind the TCP fault proxy: nothing is lost when the process is killed between
 * commit and publication, and one relay leader publishes, the other taking over when it dies.
 * NATS unreachable for 10 s under load, a timing check, is in the chaos suite
 * (test/chaos/events-outage.spec.ts).
 */
const nats = useNatsRecorder();

describe('platform events under faults', () => {
  it('loses nothing when the process is killed (SIGKILL) between commit and publication', async () => {
    const cleanup = testCleanup();
    const { graph, proxy, start, outboxSize } = await setUpEventFaults(cleanup);
    const first = await start();
    const { socket, conversationId } = await conversationOn(first, graph, cleanup);
    await eventsOf(nats.recorder, conversationId, 1);
    // NATS unreachable: what is committed now stays in the outbox.
    await proxy.down();
    const sentIds: string[] = [];
    for (let i = 0; i < 20; i++) sentIds.push((await socket.ok('sendMessage', { conversationId, text: messageText() })).message.messageId);
    expect(await outboxSize()).toBe(20);
    first.kill('SIGKILL');
    await first.exited;
    socket.close();
    await proxy.up();
    const restartedAt = Date.now();
    await start();
    await eventsOf(nats.recorder, conversationId, 21, 20_000);
    const afterStartMs = Date.now() - restartedAt;
    expectAllInOrder(nats.recorder, conversationId, sentIds);
    await pollUntil('an empty outbox', async () => ((await outboxSize()) === 0 ? true : undefined));
    report('events: SIGKILL between commit and publication', { committedUnpublished: 20, publishedAfterRestartMs: afterStartMs });
  });

});

describe('the outbox relay on two instances', () => {
  it('publishes each event once from the one leader, and goes on from the other instance within seconds when the leader is killed', async () => {
    const cleanup = testCleanup();
    const { graph, start, outboxSize } = await setUpEventFaults(cleanup);
    const instances = [await start(), await start()];
    const leaderOf = async () => {
      const flags = await Promise.all(instances.map(async (instance) => sample(await scrape(instance.httpUrl), 'messaging_outbox_relay_leader')));
      return flags.filter((flag) => flag === 1).length === 1 ? flags.indexOf(1) : undefined;
    };
    const leader = await pollUntil('one relay leader', leaderOf);
    const survivor = 1 - leader;
    const { socket, conversationId } = await conversationOn(instances[survivor]!, graph, cleanup);
    const sentIds: string[] = [];
    for (let i = 0; i < 30; i++) sentIds.push((await socket.ok('sendMessage', { conversationId, text: messageText() })).message.messageId);
    await eventsOf(nats.recorder, conversationId, 31);
    // Normal operation: the leader published everything, the other instance nothing.
    const published = async (instance: ReadyService) => {
      const text = await scrape(instance.httpUrl);
      return ['conversation.started', 'message.sent'].reduce((sum, subject) => sum + (sample(text, 'messaging_events_published_total', { subject: `messaging.v1.${subject}` }) ?? 0), 0);
    };
    expect(await published(instances[survivor]!)).toBe(0);
    expect(await published(instances[leader]!)).toBeGreaterThanOrEqual(31);

    instances[leader]!.kill('SIGKILL');
    const killedAt = Date.now();
    for (let i = 0; i < 30; i++) sentIds.push((await socket.ok('sendMessage', { conversationId, text: messageText() })).message.messageId);
    await eventsOf(nats.recorder, conversationId, 61, 10_000);
    const takeoverMs = Date.now() - killedAt;
    expectAllInOrder(nats.recorder, conversationId, sentIds);
    expect(await outboxSize()).toBe(0);
    expect(sample(await scrape(instances[survivor]!.httpUrl), 'messaging_outbox_relay_leader')).toBe(1);
    report('events: relay leader killed', { eventsAfterKillPublishedWithinMs: takeoverMs });
  });
});
