import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Buckets that resolve single milliseconds, up to the contract's 500 ms delivery budget and beyond. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

/** Every Prometheus series of the service (CONTRACT §6), on a registry of its own per app instance. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly connectedSockets = new Gauge({
    name: 'messaging_connected_sockets',
    help: 'Socket.IO sockets connected to this instance',
    registers: [this.registry],
  });
  readonly messagesStored = new Counter({
    name: 'messaging_messages_stored_total',
    help: 'Messages durably stored (repeats of a clientMessageId not counted)',
    registers: [this.registry],
  });
  readonly socketEvents = new Counter({
    name: 'messaging_socket_events_total',
    help: 'Client→server Socket.IO events handled, by event and outcome (ok or an error code)',
    labelNames: ['event', 'result'] as const,
    registers: [this.registry],
  });
  readonly grpcRequests = new Counter({
    name: 'messaging_grpc_requests_total',
    help: 'gRPC calls handled, by method and outcome (ok or an error code)',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });
  readonly messageHandlingSeconds = new Histogram({
    name: 'messaging_message_handling_seconds',
    help: 'sendMessage handling time, from the event arriving to the acknowledgement',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly historyQuerySeconds = new Histogram({
    name: 'messaging_history_query_seconds',
    help: 'Message history page queries',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly reads = new Counter({
    name: 'messaging_reads_total',
    help: 'History pages and conversation lists answered, by read (history, list) and by the database that answered (primary, replica)',
    labelNames: ['read', 'target'] as const,
    registers: [this.registry],
  });
  readonly replicaFallbacks = new Counter({
    name: 'messaging_replica_fallbacks_total',
    help: 'Reads answered by the primary although DATABASE_READ_URL is set, by reason: behind (the replica had not replayed the primary position of the request start), error (it failed or timed out), down (its last probe failed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly replicaLagBytes = new Gauge({
    name: 'messaging_replica_lag_bytes',
    help: 'WAL bytes between the primary position a read needed and what the replica had replayed, at the last read that asked it (0: caught up)',
    registers: [this.registry],
  });
  readonly replicaLagSeconds = new Gauge({
    name: 'messaging_replica_lag_seconds',
    help: 'Replay lag of the replica at its last probe or read: age of its last replayed transaction while it has received WAL it has not replayed, 0 otherwise',
    registers: [this.registry],
  });
  readonly primaryPositionQueries = new Counter({
    name: 'messaging_replica_primary_position_queries_total',
    help: 'Reads of the primary WAL position for replica reads (one serves every read that began before it was sent)',
    registers: [this.registry],
  });
  readonly connectionsCalls = new Counter({
    name: 'messaging_connections_calls_total',
    help: 'Connections service checks by result: connected, not_connected, cache_hit, error, timeout, breaker_open, revoked (a connection.removed event)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** Set by the Socket.IO adapter when it runs on Redis: how many of its commands Redis has not answered yet. */
  adapterBacklog: () => number = () => 0;
  readonly adapterPendingCommands: Gauge = new Gauge({
    name: 'messaging_socket_adapter_redis_pending_commands',
    help: 'Commands (publishes) of the Socket.IO Redis adapter still waiting for Redis to answer; bounded: broadcasts stay local while Redis does not answer',
    registers: [this.registry],
    collect: (): void => this.adapterPendingCommands.set(this.adapterBacklog()),
  });
  readonly breakerState = new Gauge({
    name: 'messaging_connections_breaker_state',
    help: 'Circuit breaker around the Connections service: 0 closed, 1 half-open, 2 open',
    registers: [this.registry],
  });

  /**
   * Set by the outbox relay when EVENT_BUS_URL is set: the outbox's size and the age of its oldest
   * event, read from the database at each scrape (one query for both gauges).
   */
  outboxSource: () => Promise<{ events: number; oldestAgeSeconds: number }> = () => Promise.resolve({ events: 0, oldestAgeSeconds: 0 });
  private outboxReading: Promise<{ events: number; oldestAgeSeconds: number } | undefined> | undefined;
  /** Undefined when the database did not answer: the gauges keep their last value (readiness reports the outage). */
  private readOutbox(): Promise<{ events: number; oldestAgeSeconds: number } | undefined> {
    // Both gauges are collected in one scrape: they share one reading.
    this.outboxReading ??= this.outboxSource()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (this.outboxReading = undefined)));
    return this.outboxReading;
  }
  readonly outboxBacklog: Gauge = new Gauge({
    name: 'messaging_outbox_backlog',
    help: 'Platform events recorded in the outbox and not yet published to NATS JetStream',
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const reading = await this.readOutbox();
      if (reading) this.outboxBacklog.set(reading.events);
    },
  });
  readonly outboxOldestAge: Gauge = new Gauge({
    name: 'messaging_outbox_oldest_event_age_seconds',
    help: 'Age of the oldest platform event not yet published (0 when the outbox is empty)',
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const reading = await this.readOutbox();
      if (reading) this.outboxOldestAge.set(reading.oldestAgeSeconds);
    },
  });
  readonly outboxRelayLeader = new Gauge({
    name: 'messaging_outbox_relay_leader',
    help: 'Whether this instance holds the outbox relay lock and publishes the platform events (1) or stands by (0)',
    registers: [this.registry],
  });
  readonly eventsPublished = new Counter({
    name: 'messaging_events_published_total',
    help: 'Platform events published to NATS JetStream by this instance, by subject',
    labelNames: ['subject'] as const,
    registers: [this.registry],
  });

  readonly dependencyUp = new Gauge({
    name: 'messaging_dependency_up',
    help: 'Whether a dependency answered its last probe (1) or not (0): database, redis, database_replica (absent when not configured; the replica is not part of readiness)',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  /** Labelled children of socketEvents, kept: prom-client otherwise hashes the labels on every event. */
  private readonly socketEventCounters = new Map<string, { inc(): void }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** One handled Socket.IO event, and for sendMessage its handling time since `startedMs` (performance.now()). */
  socketEvent(event: string, result: string, startedMs: number): void {
    const key = `${event}/${result}`;
    let counter = this.socketEventCounters.get(key);
    if (!counter) this.socketEventCounters.set(key, (counter = this.socketEvents.labels(event, result)));
    counter.inc();
    if (event === 'sendMessage') this.messageHandlingSeconds.observe((performance.now() - startedMs) / 1000);
  }
}
