import { describe, expect, it } from 'vitest';
import { testCleanup } from '../support/cleanup.js';
import { conversationOn, expectAllInOrder, setUpEventFaults } from '../support/events-faults.js';
import { distribution, report, sample, scrape, sleep } from '../support/figures.js';
import { messageText } from '../support/factories.js';
import { eventsOf, useNatsRecorder } from '../support/nats.js';

/**
 * CONTRACT §8 while NATS is unreachable for 10 s: acknowledgements are not delayed, nothing is lost,
 * the backlog is out in order within 10 s. Its ack latencies make it a timing check, so it runs in
 * the chaos suite; the kill between commit and publication and the relay takeover stay in `npm test`
 * (test/reliability/faults.spec.ts).
 */
const nats = useNatsRecorder();

describe('platform events while NATS is unreachable (chaos)', () => {
  it('loses nothing while NATS is unreachable for 10 s, keeps acknowledging, and publishes the backlog within 10 s of NATS coming back', async () => {
    const cleanup = testCleanup();
    const { graph, proxy, start } = await setUpEventFaults(cleanup);
    const service = await start();
    const { socket, conversationId } = await conversationOn(service, graph, cleanup);
    await eventsOf(nats.recorder, conversationId, 1);
    const sentIds: string[] = [];
    const ackMs: number[] = [];
    const downAckMs: number[] = [];
    let down = false;
    const send = async () => {
      const started = performance.now();
      const { message } = await socket.ok('sendMessage', { conversationId, text: messageText() });
      (down ? downAckMs : ackMs).push(performance.now() - started);
      sentIds.push(message.messageId);
    };
    for (let i = 0; i < 20; i++) await send();
    await proxy.down();
    down = true;
    const downUntil = Date.now() + 10_000;
    while (Date.now() < downUntil) {
      await send();
      await sleep(50);
    }
    const maxBacklog = sample(await scrape(service.httpUrl), 'messaging_outbox_backlog') ?? 0;
    const oldestAge = sample(await scrape(service.httpUrl), 'messaging_outbox_oldest_event_age_seconds') ?? 0;
    expect(maxBacklog).toBeGreaterThan(100);
    expect(oldestAge).toBeGreaterThan(8);
    down = false;
    await proxy.up();
    const backAt = Date.now();
    for (let i = 0; i < 20; i++) await send();
    await eventsOf(nats.recorder, conversationId, 1 + sentIds.length, 10_000);
    const drainedMs = Date.now() - backAt;
    expectAllInOrder(nats.recorder, conversationId, sentIds);
    const up = distribution(ackMs);
    const whileDown = distribution(downAckMs);
    // Acknowledgements do not wait for NATS: as fast while it is unreachable as while it is up.
    expect(whileDown.p99).toBeLessThan(Math.max(250, up.p99 * 5));
    report('events: NATS unreachable for 10 s', {
      sentWhileDown: downAckMs.length,
      backlogAtEnd: maxBacklog,
      oldestAgeSeconds: oldestAge,
      drainedAfterReconnectMs: drainedMs,
      ackP50UpMs: up.p50,
      ackP99UpMs: up.p99,
      ackP50DownMs: whileDown.p50,
      ackP99DownMs: whileDown.p99,
    });
  });
});

