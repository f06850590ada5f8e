import { afterAll, describe, expect, it } from 'vitest';
import { testCleanup } from '../support/cleanup.js';
import { conversationOn, expectAllInOrder, setUpEventFaults } from '../support/events-faults.js';
import { report, sample, scrape } from '../support/figures.js';
import { messageText } from '../support/factories.js';
import { eventsOf, useNatsRecorder } from '../support/nats.js';
import { pollUntil, removeBuild } from '../support/processes.js';
import { fuzzGateway } from '../support/scenarios/fuzz.js';
import { instanceCrash } from '../support/scenarios/instance-crash.js';
import { postgresStop } from '../support/scenarios/postgres-stop.js';
import type { ReadyService } from '../support/service-process.js';

/**
 * The faults that start service processes or a private PostgreSQL and put them under load, in one
 * file so that they run one after the other, beside the other projects' files. (A project with
 * `maxWorkers: 1` would do the same one file at a time, but Vitest runs such a project only after
 * every other project has finished, alone: issue #17.) The service processes of this file share
 * one private build of the sources (test/support/processes.ts), removed at the end.
 */
afterAll(() => removeBuild());

describe('an instance crash (SIGKILL) under load', () => {
  // 100 msg/s and a short run here; 200 msg/s, one kill and three kills, in the chaos suite.
  it('loses no acknowledged message, moves clients to the survivor, and every recipient ends with every message once, without gaps', async () => {
    await instanceCrash({ label: '100 msg/s, one kill', pairs: 10, perUserRate: 5, beforeKillMs: 2000, afterKillMs: 3000, kills: 1 });
  });
});

describe('PostgreSQL stopped in immediate mode under load', () => {
  // 3 s at 60 msg/s here; 5 s at 100 msg/s and 15 s at 200 msg/s in the chaos suite.
  it('acknowledges nothing it did not commit, answers UNAVAILABLE during the outage, and recovers without a restart', async () => {
    await postgresStop({ label: '3 s at 60 msg/s', outageMs: 3000, pairs: 3, perUserRate: 10 });
  });
});

describe('the gateway under random and mutated frames', () => {
  // 5,000 frames here: no crash, the contract's shape, oversize frames. The memory bounds need the
  // long runs of the chaos suite (30,000, 100,000 and 300,000 frames, test/chaos/fuzz.spec.ts).
  it('survives them: no crash, every event answered in the contract’s shape, oversize frames close only their socket', async () => {
    await fuzzGateway({ frames: 5000 });
  });
});

/**
 * CONTRACT §8's guarantees under faults, with the service as a real process on a database of its
 * own and NATS behind the TCP fault proxy: nothing is lost when the process is killed between
 * commit and publication, and one relay leader publishes, the other taking over when it dies.
 * NATS unreachable for 10 s under load, a timing check, is in the chaos suite
 * (test/chaos/events-outage.spec.ts).
 */
describe('platform events', () => {
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
});
