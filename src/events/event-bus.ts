import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { CONNECTIONS_STREAM, CONNECTION_REMOVED_SUBJECT, MESSAGING_STREAM } from '../contract/events.js';
import type { DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';

/** A JetStream publish that has no acknowledgement after this long failed (the relay retries it). */
const PUBLISH_TIMEOUT_MS = 2000;
/** JetStream's answer to a publication whose Nats-Expected-Last-Msg-Id does not hold. */
const WRONG_LAST_MSG_ID = 10070;

/** An event to publish: its id goes out as Nats-Msg-Id, the payload as it is (JSON text). */
export interface OutgoingEvent {
  id: string;
  subject: string;
  payload: string;
}

/** How much of a batch JetStream stored: the length of its acknowledged prefix, and what ended it. */
export interface PublishOutcome {
  stored: number;
  failure?: unknown;
}

export interface EventBusOptions {
  url: string;
  /** The durable consumer of connection removals; none for a bus that only publishes (the relay's). */
  consumer?: string;
  state: DependencyStateLogger;
}

/**
 * The NATS connection of the platform events (CONTRACT §8). It connects in the background and
 * reconnects forever: the messaging API never waits for NATS. Each time it is connected it makes
 * sure the streams MESSAGING and CONNECTIONS and the durable consumer exist, and only then says it
 * is ready. State changes are logged once each through the dependency's state logger.
 */
export class EventBus {
  private connection: NatsConnection | undefined;
  private client: JetStreamClient | undefined;
  private manager: JetStreamManager | undefined;
  private isReady = false;
  private closed = false;
  private preparing = false;
  private readonly readyListeners = new Set<() => void>();
  /** The id of the event this bus knows to be MESSAGING's last message; unknown after anything unproven. */
  private lastStoredId: string | undefined;

  constructor(private readonly options: EventBusOptions) {}

  get ready(): boolean {
    return this.isReady;
  }

  get js(): JetStreamClient | undefined {
    return this.isReady ? this.client : undefined;
  }

  /** Called each time the bus becomes ready (after every reconnection). */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: this.options.url,
        name: 'platform-service-messaging',
        waitOnFirstConnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 2000,
        // A path that silently drops packets is noticed within ~10 s, not NATS's default 4 minutes.
        pingInterval: 5000,
        maxPingOut: 2,
        // No stack captured per request: it doubled the CPU of each publication (~37 vs ~67 µs
        // measured), and a failed publication is logged by the relay with its cause anyway.
        noAsyncTraces: true,
      });
    } catch (error) {
      // Only a refused configuration gets here (waitOnFirstConnect retries unreachable servers).
      this.options.state.failed(error);
      return;
    }
    if (this.closed) {
      await connection.close().catch(() => undefined);
      return;
    }
    this.connection = connection;
    this.client = jetstream(connection, { timeout: PUBLISH_TIMEOUT_MS });
    void this.watch(connection);
    await this.prepare();
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') {
        this.isReady = false;
        this.options.state.failed(new Error(`disconnected from NATS ${status.server}`));
      } else if (status.type === 'reconnect') {
        await this.prepare();
      } else if (status.type === 'error') {
        this.options.state.failed(status.error);
      }
    }
  }

  /**
   * After publications failed while connected: the stream may have been deleted (JetStream then
   * has no responder for the subject). Makes sure of the streams and the consumer again.
   */
  recheck(): void {
    void this.prepare();
  }

  /** Streams and consumer; retried until it works while the connection is up. */
  private async prepare(): Promise<void> {
    if (this.preparing) return;
    this.preparing = true;
    try {
      await this.prepareUntilDone();
    } finally {
      this.preparing = false;
    }
  }

  private async prepareUntilDone(): Promise<void> {
    while (!this.closed && this.connection && !this.connection.isClosed()) {
      try {
        this.manager = await jetstreamManager(this.connection, { timeout: PUBLISH_TIMEOUT_MS });
        await ensureStream(this.manager, MESSAGING_STREAM);
        await ensureStream(this.manager, CONNECTIONS_STREAM);
        if (this.options.consumer) await this.manager.consumers.add(CONNECTIONS_STREAM.name, {
          durable_name: this.options.consumer,
          filter_subject: CONNECTION_REMOVED_SUBJECT,
          ack_policy: AckPolicy.Explicit,
          // A new consumer reads the whole stream: removals published before this service first
          // started still revoke (they only make a negative cache entry each).
          deliver_policy: DeliverPolicy.All,
          ack_wait: 10_000_000_000,
        });
        this.lastStoredId = undefined;
        this.isReady = true;
        this.options.state.recovered();
        for (const listener of this.readyListeners) listener();
        return;
      } catch (error) {
        this.options.state.failed(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /**
   * Publishes the events to MESSAGING in their order and says how many, from the first, JetStream
   * stored; after a failure nothing more is sent. Stored means stored once, in this order: no
   * event is stored after one that was not (CONTRACT §8's order per conversation, whatever failed).
   *
   * The events go out in bursts, one round trip each: every event of a burst carries, besides its
   * Nats-Msg-Id, the id of the event before it as Nats-Expected-Last-Msg-Id, and only the burst's
   * last event asks for an acknowledgement. JetStream stores an event only when the stream's last
   * message is the one it names, so the events of a burst are stored as a chain: one that is not
   * stored (refused, lost, already there) or a message of another publisher in between breaks
   * every link after it, and the last event's acknowledgement proves the whole burst stored once,
   * in order, after the previous one. When the chain's start is unknown (the first batch, or after
   * a burst that did not hold), events are published one by one, acknowledged, until one is newly
   * stored: JetStream reports an event it already had as a duplicate, and the rest go out in a
   * burst after the new one. test/integration/event-bus.spec.ts checks the JetStream behaviour
   * this relies on.
   */
  async publishInOrder(events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    let stored = 0;
    try {
      while (stored < events.length) {
        if (this.lastStoredId !== undefined && (await this.publishChain(events, stored))) return { stored: events.length };
        const event = events[stored]!;
        const ack = await this.acknowledged(event);
        stored++;
        this.lastStoredId = ack.duplicate ? undefined : event.id;
      }
      return { stored };
    } catch (failure) {
      this.lastStoredId = undefined;
      return { stored, failure };
    }
  }

  /** One event, its id as Nats-Msg-Id, acknowledged once JetStream has stored it (or had it). */
  private acknowledged(event: OutgoingEvent) {
    const client = this.js;
    if (!client) throw new Error('NATS is not connected');
    return client.publish(event.subject, event.payload, { msgID: event.id, timeout: PUBLISH_TIMEOUT_MS });
  }

  /** The events from `from` on as one chain after `lastStoredId` (see publishInOrder); true when it held. */
  private async publishChain(events: readonly OutgoingEvent[], from: number): Promise<boolean> {
    const connection = this.connection;
    const client = this.js;
    if (!connection || !client) throw new Error('NATS is not connected');
    let previous = this.lastStoredId!;
    this.lastStoredId = undefined;
    const last = events.length - 1;
    for (let index = from; index < last; index++) {
      const event = events[index]!;
      const header = headers();
      header.set('Nats-Msg-Id', event.id);
      header.set('Nats-Expected-Last-Msg-Id', previous);
      connection.publish(event.subject, event.payload, { headers: header });
      previous = event.id;
    }
    const final = events[last]!;
    try {
      const ack = await client.publish(final.subject, final.payload, { msgID: final.id, timeout: PUBLISH_TIMEOUT_MS, expect: { lastMsgID: previous } });
      if (ack.duplicate) return false;
      this.lastStoredId = final.id;
      return true;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === WRONG_LAST_MSG_ID) return false;
      throw error;
    }
  }

  /** The durable consumer of connection removals (after `ready`). */
  async removalsConsumer() {
    if (!this.client || !this.options.consumer) throw new Error('NATS is not connected');
    return this.client.consumers.get(CONNECTIONS_STREAM.name, this.options.consumer);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.isReady = false;
    await this.connection?.drain().catch(() => this.connection?.close());
  }
}

async function ensureStream(manager: JetStreamManager, stream: { name: string; subjects: string }): Promise<void> {
  try {
    await manager.streams.info(stream.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    try {
      await manager.streams.add({ name: stream.name, subjects: [stream.subjects], storage: StorageType.File });
    } catch (added) {
      // Created meanwhile by another instance (or the other side of the platform): fine.
      await manager.streams.info(stream.name).catch(() => {
        throw added;
      });
    }
  }
}
