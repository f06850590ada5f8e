import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type OutgoingEvent } from '../../src/events/event-bus.js';
import { DependencyStateLogger } from '../../src/infrastructure/observability/dependency-state.js';
import { deleteConsumer, NATS_URL, useNatsRecorder } from '../support/nats.js';
import { pollUntil } from '../support/processes.js';

/**
 * The event bus's ordered publication (src/events/event-bus.ts `publishInOrder`) on the real NATS:
 * whole batches stored once and in order, also when JetStream already had part of a batch or
 * another publisher wrote to the stream in between; and the two JetStream behaviours it relies on.
 */
const SUBJECT = 'messaging.v1.test.event-bus';

describe('the event bus publishing a batch in order', () => {
  const nats = useNatsRecorder();
  const consumer = `test-event-bus-${randomUUID()}`;
  const failures: unknown[] = [];
  let bus: EventBus;

  beforeAll(async () => {
    const log = { error: (_context: unknown, message: string) => failures.push(message), info: () => undefined };
    bus = new EventBus({ url: NATS_URL, consumer, state: new DependencyStateLogger(log as never, 'nats (event bus)') });
    bus.start();
    await pollUntil('the event bus ready', () => bus.ready || undefined);
  });
  afterAll(async () => {
    await bus?.close();
    await deleteConsumer(nats.nc, consumer);
  });

  function batch(size: number): OutgoingEvent[] {
    const marker = randomUUID();
    return Array.from({ length: size }, (_, n) => {
      const id = randomUUID();
      return { id, subject: SUBJECT, payload: JSON.stringify({ eventId: id, marker, n }) };
    });
  }

  /** The stream's copies of these events, in stream order, once all of them arrived. */
  function storedCopies(events: OutgoingEvent[]) {
    const ids = new Set(events.map((event) => event.id));
    return pollUntil(`${events.length} events in the stream`, () => {
      const copies = nats.recorder.events.filter((event) => event.msgId !== undefined && ids.has(event.msgId));
      return new Set(copies.map((copy) => copy.msgId)).size === events.length ? copies : undefined;
    });
  }

  async function expectStoredOnceInOrder(events: OutgoingEvent[]) {
    const copies = await storedCopies(events);
    expect(copies.map((copy) => copy.msgId)).toEqual(events.map((event) => event.id));
    for (const copy of copies) expect(copy.payload.eventId).toBe(copy.msgId);
  }

  it('stores a batch once and in order', async () => {
    const events = batch(300);
    expect(await bus.publishInOrder(events)).toEqual({ stored: 300 });
    await expectStoredOnceInOrder(events);
    // The next batch follows the last one's acknowledged sequence.
    const next = batch(50);
    expect(await bus.publishInOrder(next)).toEqual({ stored: 50 });
    await expectStoredOnceInOrder(next);
  });

  it('publishes a batch JetStream already had the start of without storing anything twice (a relay restarted before its delete)', async () => {
    const events = batch(200);
    expect(await bus.publishInOrder(events.slice(0, 80))).toEqual({ stored: 80 });
    expect(await bus.publishInOrder(events)).toEqual({ stored: 200 });
    await expectStoredOnceInOrder(events);
  });

  it('stores whole batches after another publisher wrote to the stream since the last one', async () => {
    const first = batch(40);
    expect(await bus.publishInOrder(first)).toEqual({ stored: 40 });
    const foreign = batch(1)[0]!;
    await jetstream(nats.nc).publish(foreign.subject, foreign.payload, { msgID: foreign.id });
    const second = batch(40);
    expect(await bus.publishInOrder(second)).toEqual({ stored: 40 });
    await expectStoredOnceInOrder([...first, foreign, ...second]);
    // A message without an id in between breaks the chain as well.
    await jetstream(nats.nc).publish(SUBJECT, JSON.stringify({ anonymous: true }));
    const third = batch(40);
    expect(await bus.publishInOrder(third)).toEqual({ stored: 40 });
    await expectStoredOnceInOrder(third);
    expect(failures).toEqual([]);
  });
});

/**
 * What `publishInOrder` relies on from JetStream (this fails if a NATS server changes it): on one
 * connection, publications without a reply are handled in the order sent; one whose
 * Nats-Expected-Last-Msg-Id is not the id of the stream's last message is not stored (a message
 * without an id, or one with another id, in between breaks the chain); one JetStream already has
 * (Nats-Msg-Id) is not stored again and reported as a duplicate when acknowledged; a refused one
 * can be published again.
 */
describe('JetStream, as the event bus relies on it', () => {
  const nats = useNatsRecorder();
  const suffix = randomUUID().replaceAll('-', '');
  const stream = { name: `TEST_EVENT_BUS_${suffix}`, subject: `test.event-bus.${suffix}` };

  beforeAll(async () => {
    const manager = await jetstreamManager(nats.nc);
    await manager.streams.add({ name: stream.name, subjects: [`${stream.subject}.>`] });
  });
  afterAll(async () => {
    const manager = await jetstreamManager(nats.nc);
    await manager.streams.delete(stream.name).catch(() => undefined);
  });

  function chained(name: string, previous: string) {
    const header = headers();
    header.set('Nats-Msg-Id', name);
    header.set('Nats-Expected-Last-Msg-Id', previous);
    nats.nc.publish(`${stream.subject}.${name}`, name, { headers: header });
  }

  async function storedNames(): Promise<string[]> {
    const manager = await jetstreamManager(nats.nc);
    const { state } = await manager.streams.info(stream.name);
    const names: string[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) names.push((await manager.streams.getMessage(stream.name, { seq }))!.string());
    return names;
  }

  it('stores a chain of publications without replies only while each names the last message', async () => {
    const js = jetstream(nats.nc);
    await js.publish(`${stream.subject}.a`, 'a', { msgID: 'a' });
    chained('b', 'a');
    // Another publisher's message without an id: c's link to b no longer holds.
    await js.publish(`${stream.subject}.f`, 'f');
    chained('c', 'b');
    // Another publisher's message with an id: d links to it; e names a message that is not last, and h one that was refused.
    await js.publish(`${stream.subject}.g`, 'g', { msgID: 'g' });
    chained('d', 'g');
    chained('e', 'x');
    chained('h', 'e');
    // A duplicate is reported, not stored, and leaves the last message as it was.
    expect((await js.publish(`${stream.subject}.d`, 'd', { msgID: 'd' })).duplicate).toBe(true);
    chained('i', 'd');
    // The acknowledged end of a chain reports a broken link with JetStream's code 10070.
    const ending = await js.publish(`${stream.subject}.z`, 'z', { msgID: 'z', expect: { lastMsgID: 'h' } }).catch((error: unknown) => error);
    expect(ending).toBeInstanceOf(JetStreamApiError);
    expect((ending as JetStreamApiError).code).toBe(10070);
    // A refused event is not remembered as a duplicate: it can be stored later.
    expect((await js.publish(`${stream.subject}.e`, 'e', { msgID: 'e' })).duplicate).toBe(false);
    expect(await storedNames()).toEqual(['a', 'b', 'f', 'g', 'd', 'i', 'e']);
  });
});
