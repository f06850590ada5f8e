import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_EVENTS, type PublishedSubject } from '../../src/contract/events.js';
import { clientMessageId, messageText, userId } from '../support/factories.js';
import { deleteConsumer, eventsOf, NATS_URL, publishConnectionRemoved, type PublishedEvent, useNatsRecorder } from '../support/nats.js';
import { TestClient } from '../support/socket-client.js';
import { startCluster, type TestCluster } from '../support/test-app.js';
import { useApp } from '../support/use-app.js';

/**
 * CONTRACT §8 over the real NATS JetStream: the events a conversation's changes publish, their
 * shapes (the zod schemas of src/contract/events.ts, strict), their order and their absence.
 */
const nats = useNatsRecorder();

function expectShape(event: PublishedEvent): void {
  const schema = PUBLISHED_EVENTS[event.subject as PublishedSubject];
  expect(schema, event.subject).toBeDefined();
  const parsed = schema.safeParse(event.payload);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  expect(event.msgId).toBe(event.payload.eventId);
}

describe('platform events (EVENT_BUS_URL set)', () => {
  const fixture = useApp({ EVENT_BUS_URL: NATS_URL, EVENT_BUS_CONSUMER: `messaging-e2e-${process.pid}`, RATE_LIMIT_MESSAGES_PER_SECOND: '100' });
  afterAll(() => deleteConsumer(nats.nc, `messaging-e2e-${process.pid}`));

  it('publishes conversation.started, message.sent, message.delivered and message.read with the contract shapes, in commit order', async () => {
    const { alice, bob, a1, conversationId } = await fixture.pair();
    const b1 = await fixture.connect(bob);
    const { message: first } = await a1.ok('sendMessage', { conversationId, text: 'hello', clientMessageId: 'c-1' });
    const { message: second } = await a1.ok('sendMessage', { conversationId, text: 'again' });
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: first.messageId });
    await b1.ok('markAsRead', { conversationId, lastReadMessageId: second.messageId });

    const events = await eventsOf(nats.recorder, conversationId, 5);
    for (const event of events) expectShape(event);
    expect(events.map((event) => event.subject)).toEqual([
      'messaging.v1.conversation.started',
      'messaging.v1.message.sent',
      'messaging.v1.message.sent',
      'messaging.v1.message.delivered',
      'messaging.v1.message.read',
    ]);
    const [started, sent1, sent2, delivered, read] = events.map((event) => event.payload);
    expect(started!.conversation).toMatchObject({ conversationId, participantIds: [alice, bob].sort((x, y) => (x < y ? -1 : 1)) });
    expect(sent1).toMatchObject({ message: first, recipientId: bob, occurredAt: first.timestamp });
    expect(sent2).toMatchObject({ message: second, recipientId: bob });
    expect(delivered).toMatchObject({ conversationId, recipientId: bob, messageId: first.messageId, seq: 1 });
    expect(delivered!.occurredAt).toBe(delivered!.deliveredAt);
    // The read also marks the second message delivered: one message.read, no message.delivered.
    expect(read).toMatchObject({ conversationId, readerId: bob, messageId: second.messageId, seq: 2 });
    expect(new Set(events.map((event) => event.payload.eventId)).size).toBe(5);
  });

  it('publishes nothing for a repeated clientMessageId, a refused send or a receipt that marks nothing', async () => {
    const { bob, a1, conversationId } = await fixture.pair();
    const b1 = await fixture.connect(bob);
    const id = clientMessageId();
    const { message } = await a1.ok('sendMessage', { conversationId, text: messageText(), clientMessageId: id });
    const repeat = await a1.ok('sendMessage', { conversationId, text: messageText(), clientMessageId: id });
    expect(repeat.message.messageId).toBe(message.messageId);
    expect((await a1.emit('sendMessage', { conversationId, text: '   ' })).ok).toBe(false);
    await b1.ok('markAsRead', { conversationId, lastReadMessageId: message.messageId });
    await b1.ok('markAsRead', { conversationId, lastReadMessageId: message.messageId });
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: message.messageId });
    // A marker after everything above: once it is out, everything before it is too (commit order).
    const { message: marker } = await a1.ok('sendMessage', { conversationId, text: 'marker' });
    const events = await eventsOf(nats.recorder, conversationId, 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(nats.recorder.of(conversationId).map((event) => event.subject)).toEqual([
      'messaging.v1.conversation.started',
      'messaging.v1.message.sent',
      'messaging.v1.message.read',
      'messaging.v1.message.sent',
    ]);
    expect((events[3]!.payload.message as { messageId: string }).messageId).toBe(marker.messageId);
  });

  it('publishes a refused start and a second start of the same pair as nothing', async () => {
    const { alice, bob, a1, conversationId } = await fixture.pair();
    const again = await a1.ok('startConversation', { participantId: bob });
    expect(again.conversation.conversationId).toBe(conversationId);
    const stranger = userId('stranger');
    expect((await a1.emit('startConversation', { participantId: stranger })).ok).toBe(false);
    await a1.ok('sendMessage', { conversationId, text: 'marker' });
    await eventsOf(nats.recorder, conversationId, 2);
    expect(nats.recorder.of(conversationId).map((event) => event.subject)).toEqual(['messaging.v1.conversation.started', 'messaging.v1.message.sent']);
    expect(nats.recorder.events.filter((event) => JSON.stringify(event.payload).includes(stranger))).toEqual([]);
    void alice;
  });

  it('keeps seq order under 50 concurrent sends to one conversation', async () => {
    const { bob, a1, conversationId } = await fixture.pair();
    const b1 = await fixture.connect(bob);
    const sends = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a1 : b1).ok('sendMessage', { conversationId, text: `m${i}` })),
    );
    const events = await eventsOf(nats.recorder, conversationId, 51);
    const sent = events.filter((event) => event.subject === 'messaging.v1.message.sent').map((event) => event.payload.message as { seq: number; messageId: string });
    expect(sent.map((message) => message.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(sent.map((message) => message.messageId))).toEqual(new Set(sends.map((send) => send.message.messageId)));
    for (const event of events) expectShape(event);
  });

  it('reports the outbox backlog and the age of its oldest event on /metrics', async () => {
    const text = await (await fetch(`${fixture.url}/metrics`)).text();
    expect(text).toMatch(/^messaging_outbox_backlog \d+$/m);
    expect(text).toMatch(/^messaging_outbox_oldest_event_age_seconds [\d.e+-]+$/m);
  });
});

describe('connection removed (connections.v1.connection.removed)', () => {
  let cluster: TestCluster | undefined;
  const consumer = `messaging-e2e-removals-${process.pid}`;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    cluster = await startCluster(2, { EVENT_BUS_URL: NATS_URL, EVENT_BUS_CONSUMER: consumer, CONNECTIONS_CACHE_TTL_SECONDS: '300' });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.close();
    await deleteConsumer(nats.nc, consumer);
  });

  it('refuses the pair on both instances within 1 s, whatever their caches held, until Connections says connected again', async () => {
    const c = cluster!;
    const [alice, bob] = [userId('alice'), userId('bob')];
    c.graph.connect(alice, bob);
    const onFirst = await TestClient.connect(c.urls[0]!, await c.token(alice));
    const onSecond = await TestClient.connect(c.urls[1]!, await c.token(alice));
    clients.push(onFirst, onSecond);
    const { conversation } = await onFirst.ok('startConversation', { participantId: bob });
    const conversationId = conversation.conversationId;
    // Both instances cache "connected" (for 300 s).
    await onFirst.ok('sendMessage', { conversationId, text: messageText() });
    await onSecond.ok('sendMessage', { conversationId, text: messageText() });

    c.graph.disconnect(alice, bob);
    const published = Date.now();
    await publishConnectionRemoved(nats.nc, bob, alice);
    const refusedAt: number[] = [];
    for (const client of [onFirst, onSecond]) {
      for (;;) {
        const result = await client.emit('sendMessage', { conversationId, text: messageText() });
        if (!result.ok) {
          expect(result.error.code).toBe('PERMISSION_DENIED');
          refusedAt.push(Date.now() - published);
          break;
        }
        expect(Date.now() - published).toBeLessThan(1000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(Math.max(...refusedAt)).toBeLessThan(1000);
    const start = await onSecond.emit('startConversation', { participantId: bob });
    expect(start.ok ? 'ok' : start.error.code).toBe('PERMISSION_DENIED');

    // Connected again: an answer obtained after the event lets them through (the revocation's
    // negative entry lasts CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS, 5 s by default).
    c.graph.connect(alice, bob);
    for (const client of [onFirst, onSecond]) {
      const deadline = Date.now() + 8000;
      for (;;) {
        const result = await client.emit('sendMessage', { conversationId, text: messageText() });
        if (result.ok) break;
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });
});
