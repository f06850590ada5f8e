import { afterAll, beforeAll } from 'vitest';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { MESSAGING_STREAM, CONNECTIONS_STREAM, CONNECTION_REMOVED_SUBJECT } from '../../src/contract/events.js';
import { pollUntil } from './processes.js';

export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const NATS_PORT = Number(new URL(NATS_URL).port || 4222);

const START_HINT =
  'start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log';

/** A connection to the test NATS (JetStream), or a failure that says how to start it. */
export async function connectNats(): Promise<NatsConnection> {
  try {
    return await connect({ servers: NATS_URL, timeout: 2000, maxReconnectAttempts: 10 });
  } catch (error) {
    throw new Error(`NATS with JetStream is not reachable at ${NATS_URL} (${(error as Error).message}); ${START_HINT}`, { cause: error });
  }
}

export interface PublishedEvent {
  subject: string;
  streamSeq: number;
  msgId: string | undefined;
  payload: Record<string, unknown>;
}

/**
 * Records every event of the stream MESSAGING published from now on (the stream is shared by test
 * runs: tests select theirs by the conversation ids they created).
 */
export async function recordMessagingEvents(nc: NatsConnection): Promise<{ events: PublishedEvent[]; of(conversationId: string): PublishedEvent[]; stop(): Promise<void> }> {
  const js: JetStreamClient = jetstream(nc);
  const manager = await jetstreamManager(nc);
  await ensureStream(manager, MESSAGING_STREAM);
  const info = await manager.streams.info(MESSAGING_STREAM.name);
  const consumer = await js.consumers.get(MESSAGING_STREAM.name, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.state.last_seq + 1 });
  const messages = await consumer.consume();
  const events: PublishedEvent[] = [];
  const done = (async () => {
    for await (const message of messages) {
      events.push({ subject: message.subject, streamSeq: message.seq, msgId: message.headers?.get('Nats-Msg-Id'), payload: message.json() });
    }
  })();
  return {
    events,
    of: (conversationId) => events.filter((event) => conversationOf(event.payload) === conversationId),
    stop: async () => {
      await messages.close();
      await done;
    },
  };
}

export function conversationOf(payload: Record<string, unknown>): string | undefined {
  if (typeof payload.conversationId === 'string') return payload.conversationId;
  const nested = (payload.message ?? payload.conversation) as { conversationId?: string } | undefined;
  return nested?.conversationId;
}

/** Waits until `count` events of the conversation were recorded. */
export function eventsOf(recorder: { of(conversationId: string): PublishedEvent[] }, conversationId: string, count: number, timeoutMs = 10_000): Promise<PublishedEvent[]> {
  return pollUntil(`${count} events of ${conversationId}`, () => {
    const found = recorder.of(conversationId);
    return found.length >= count ? found : undefined;
  }, timeoutMs);
}

/** Publishes a connection removal as the Connections service does. */
export async function publishConnectionRemoved(nc: NatsConnection, userIdA: string, userIdB: string): Promise<void> {
  const manager = await jetstreamManager(nc);
  await ensureStream(manager, CONNECTIONS_STREAM);
  const eventId = crypto.randomUUID();
  await jetstream(nc).publish(CONNECTION_REMOVED_SUBJECT, JSON.stringify({ eventId, userIdA, userIdB, occurredAt: new Date().toISOString() }), { msgID: eventId });
}

/** Deletes a durable consumer a test created (consumers outlive test runs on the shared server). */
export async function deleteConsumer(nc: NatsConnection, name: string): Promise<void> {
  const manager = await jetstreamManager(nc);
  await manager.consumers.delete(CONNECTIONS_STREAM.name, name).catch(() => undefined);
}

async function ensureStream(manager: Awaited<ReturnType<typeof jetstreamManager>>, stream: { name: string; subjects: string }): Promise<void> {
  await manager.streams.info(stream.name).catch(() => manager.streams.add({ name: stream.name, subjects: [stream.subjects] }));
}

export type EventRecorder = Awaited<ReturnType<typeof recordMessagingEvents>>;

/** A NATS connection and a recorder of the stream MESSAGING for the file's tests (opened before them, closed after). */
export function useNatsRecorder(): { readonly nc: NatsConnection; readonly recorder: EventRecorder } {
  let nc: NatsConnection | undefined;
  let recorder: EventRecorder | undefined;
  beforeAll(async () => {
    nc = await connectNats();
    recorder = await recordMessagingEvents(nc);
  });
  afterAll(async () => {
    await recorder?.stop();
    await nc?.close();
  });
  return {
    get nc() {
      if (!nc) throw new Error('NATS is not connected');
      return nc;
    },
    get recorder() {
      if (!recorder) throw new Error('NATS is not connected');
      return recorder;
    },
  };
}
