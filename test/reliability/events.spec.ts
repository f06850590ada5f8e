import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { testCleanup, type TestCleanup } from '../support/cleanup.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { distribution, report, sample, scrape, sleep } from '../support/figures.js';
import { messageText, userId } from '../support/factories.js';
import { eventsOf, NATS_PORT, useNatsRecorder } from '../support/nats.js';
import { pollUntil } from '../support/processes.js';
import { spawnService, type ReadyService } from '../support/service-process.js';
import { createScratchDatabase } from '../support/services.js';
import { TestClient } from '../support/socket-client.js';

const SECRET = 'events-reliability-secret-long-enough-for-hs256';

/**
 * CONTRACT §8's guarantees under faults, with the service as a real process on a database of its
 * own (so that its relay is the only one) and NATS behind the TCP fault proxy: nothing is lost when
 * the process is killed between commit and publication, nor when NATS is unreachable for 10 s, and
 * the API keeps acknowledging meanwhile.
 */
const nats = useNatsRecorder();

async function setUp(cleanup: TestCleanup) {
  const database = await createScratchDatabase('events_rel');
  cleanup.add(() => database.drop());
  const graph = new ConnectionsGraph();
  const connections = await startConnectionsServer(graph);
  cleanup.add(() => connections.stop());
  const proxy = await startFaultProxy({ port: NATS_PORT });
  cleanup.add(() => proxy.close());
  const env = {
    DATABASE_URL: database.url,
    CONNECTIONS_GRPC_URL: connections.url,
    JWT_SECRET: SECRET,
    EVENT_BUS_URL: `nats://${proxy.address}`,
    EVENT_BUS_CONSUMER: `messaging-rel-${process.pid}`,
    RATE_LIMIT_MESSAGES_PER_SECOND: '1000',
  };
  const services: ReadyService[] = [];
  const start = async () => {
    const service = await spawnService(env);
    services.push(service);
    cleanup.add(() => service.kill('SIGKILL'));
    return service;
  };
  const outboxSize = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<{ n: number }>('SELECT COALESCE(sum(events), 0)::int AS n FROM outbox_event')).rows[0]!.n;
    } finally {
      await client.end();
    }
  };
  return { graph, proxy, start, outboxSize };
}

async function conversationOn(service: ReadyService, graph: ConnectionsGraph, cleanup: TestCleanup) {
  const [alice, bob] = [userId('alice'), userId('bob')];
  graph.connect(alice, bob);
  const socket = await TestClient.connect(service.httpUrl, await signUserToken(SECRET, alice));
  cleanup.add(() => socket.close());
  const { conversation } = await socket.ok('startConversation', { participantId: bob });
  return { socket, conversationId: conversation.conversationId };
}

/** Every message.sent of the conversation once (JetStream dropped re-publications by Nats-Msg-Id), in seq order. */
function expectAllInOrder(conversationId: string, sentIds: string[]): void {
  const events = nats.recorder.of(conversationId);
  const ids = events.map((event) => event.payload.eventId as string);
  expect(new Set(ids).size).toBe(ids.length);
  expect(events[0]!.subject).toBe('messaging.v1.conversation.started');
  const sent = events.filter((event) => event.subject === 'messaging.v1.message.sent').map((event) => event.payload.message as { messageId: string; seq: number });
  expect(sent.map((message) => message.messageId)).toEqual(sentIds);
  expect(sent.map((message) => message.seq)).toEqual(sentIds.map((_, i) => i + 1));
}

describe('platform events under faults', () => {
  it('loses nothing when the process is killed (SIGKILL) between commit and publication', async () => {
    const cleanup = testCleanup();
    const { graph, proxy, start, outboxSize } = await setUp(cleanup);
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
    expectAllInOrder(conversationId, sentIds);
    await pollUntil('an empty outbox', async () => ((await outboxSize()) === 0 ? true : undefined));
    report('events: SIGKILL between commit and publication', { committedUnpublished: 20, publishedAfterRestartMs: afterStartMs });
  });

  it('loses nothing while NATS is unreachable for 10 s, keeps acknowledging, and publishes the backlog within 10 s of NATS coming back', async () => {
    const cleanup = testCleanup();
    const { graph, proxy, start } = await setUp(cleanup);
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
    expectAllInOrder(conversationId, sentIds);
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

describe('the outbox relay on two instances', () => {
  it('publishes each event once from the one leader, and goes on from the other instance within seconds when the leader is killed', async () => {
    const cleanup = testCleanup();
    const { graph, start, outboxSize } = await setUp(cleanup);
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
    expectAllInOrder(conversationId, sentIds);
    expect(await outboxSize()).toBe(0);
    expect(sample(await scrape(instances[survivor]!.httpUrl), 'messaging_outbox_relay_leader')).toBe(1);
    report('events: relay leader killed', { eventsAfterKillPublishedWithinMs: takeoverMs });
  });
});
