import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CONNECTIONS_STREAM, CONNECTION_REMOVED_SUBJECT, MESSAGING_STREAM } from '../contract/events.js';
import type { DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';

/** A JetStream publish that has no acknowledgement after this long failed (the relay retries it). */
const PUBLISH_TIMEOUT_MS = 2000;

export interface EventBusOptions {
  url: string;
  consumer: string;
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
        await this.manager.consumers.add(CONNECTIONS_STREAM.name, {
          durable_name: this.options.consumer,
          filter_subject: CONNECTION_REMOVED_SUBJECT,
          ack_policy: AckPolicy.Explicit,
          // A new consumer reads the whole stream: removals published before this service first
          // started still revoke (they only make a negative cache entry each).
          deliver_policy: DeliverPolicy.All,
          ack_wait: 10_000_000_000,
        });
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

  /** Publishes one event with its id as Nats-Msg-Id; resolves when JetStream has stored it. */
  async publish(subject: string, payload: string, eventId: string): Promise<void> {
    const client = this.js;
    if (!client) throw new Error('NATS is not connected');
    await client.publish(subject, payload, { msgID: eventId, timeout: PUBLISH_TIMEOUT_MS });
  }

  /** The durable consumer of connection removals (after `ready`). */
  async removalsConsumer() {
    if (!this.client) throw new Error('NATS is not connected');
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
