import type { Logger } from 'pino';
import type { DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';
import { traced } from '../infrastructure/observability/tracing.js';
import type { EventBus } from './event-bus.js';
import type { OutboxEvent, RelaySession } from './relay-session.js';

/** Where the relay's sessions come from (a connection of its own each: see RelaySession). */
export interface RelaySessions {
  openRelaySession(): Promise<RelaySession>;
}

/** What the relay reports for /metrics: the main thread's Metrics, or messages to it from the relay's thread. */
export interface RelayReporter {
  leading(isLeader: boolean): void;
  published(subject: string, count: number): void;
}

/** Events read and published per round (whole outbox rows: a few more when a send batch's row straddles the count). */
const BATCH = 500;
/**
 * How long the leader waits after a round that did not fill a batch: under load, the events of
 * that time go out in one round (one read, one pipelined burst, one delete) instead of in many
 * small ones; idle, it is how often it looks. Within CONTRACT §8's "normally within a second".
 */
const IDLE_POLL_MS = 100;
/** How often a follower tries to take the lead (so: how long the outbox may wait after a leader died). */
const FOLLOWER_POLL_MS = 1000;
/** After a failed round (NATS or the database away), the next try. */
const RETRY_MS = 500;

/**
 * Publishes the outbox to JetStream (docs/events.md). Of all the instances on one database, the one
 * whose relay session holds the relay advisory lock publishes; the others try to take it every
 * second, so when the leader's process or connection dies (PostgreSQL ends its session and frees
 * the lock) another one takes over within about a second. The leader reads the oldest events in
 * position order (commit order within a conversation), publishes them with their id as
 * Nats-Msg-Id, and deletes those JetStream acknowledged: only the unbroken prefix, so that a failed
 * event is retried before anything after it is deleted.
 */
export class OutboxRelay {
  private running = false;
  private wake: (() => void) | undefined;
  private nudged = false;
  private loop: Promise<void> | undefined;
  private session: RelaySession | undefined;
  private leading = false;

  constructor(
    private readonly outbox: RelaySessions,
    private readonly bus: EventBus,
    private readonly state: DependencyStateLogger,
    private readonly logger: Logger,
    private readonly reporter: RelayReporter,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running = true;
    this.bus.onReady(() => this.nudge());
    this.loop = this.run();
  }

  /** Something was committed (or NATS is back): look at the outbox now. */
  nudge(): void {
    // Followers only poll for the lead.
    if (!this.leading) return;
    this.nudged = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.session?.close();
    this.session = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let pause: number;
      try {
        pause = await this.round();
      } catch (error) {
        this.state.failed(error);
        await this.dropSession();
        pause = RETRY_MS;
      }
      if (pause > 0) await this.sleep(pause);
    }
  }

  /** One round; returns how long to wait before the next. */
  private async round(): Promise<number> {
    if (this.session?.broken) await this.dropSession();
    if (!this.session) this.session = await this.outbox.openRelaySession();
    if (!this.leading) {
      this.leading = await this.session.tryLead();
      this.reporter.leading(this.leading);
      if (!this.leading) return FOLLOWER_POLL_MS;
      this.logger.info('outbox relay: this instance publishes the platform events');
    }
    if (!this.bus.ready) return RETRY_MS;
    this.nudged = false;
    const events = await this.session.oldest(BATCH);
    if (events.length === 0) {
      this.state.recovered();
      return this.nudged ? 0 : IDLE_POLL_MS;
    }
    const published = await traced('outbox.relay publish', { 'messaging.system': 'nats', 'messaging.batch.message_count': String(events.length) }, () =>
      this.publish(events),
    );
    const done = publishedRows(events, published);
    if (done.length > 0) await this.session.delete(done);
    if (published < events.length) {
      this.bus.recheck();
      return RETRY_MS;
    }
    this.state.recovered();
    return events.length >= BATCH ? 0 : IDLE_POLL_MS;
  }

  /**
   * Publishes the events in position order and returns the length of the prefix JetStream stored;
   * a failure is logged (once per change of state).
   */
  private async publish(events: OutboxEvent[]): Promise<number> {
    const { stored, failure } = await this.bus.publishInOrder(events);
    const counts = new Map<string, number>();
    for (let index = 0; index < stored; index++) counts.set(events[index]!.subject, (counts.get(events[index]!.subject) ?? 0) + 1);
    for (const [subject, count] of counts) this.reporter.published(subject, count);
    if (failure !== undefined) this.state.failed(failure);
    return stored;
  }

  private async dropSession(): Promise<void> {
    if (this.leading) this.logger.warn('outbox relay: lost the relay session; another instance (or this one, reconnected) takes over');
    this.leading = false;
    this.reporter.leading(false);
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running || this.nudged) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

/**
 * The rows whose events were all published, given the published prefix: a send batch's row that was
 * published in part stays, and is published again from its start (JetStream drops the repeats).
 */
export function publishedRows(events: readonly OutboxEvent[], published: number): string[] {
  const partial = published < events.length ? events[published]!.position : undefined;
  const rows: string[] = [];
  for (let index = 0; index < published; index++) {
    const position = events[index]!.position;
    if (position !== partial && rows.at(-1) !== position) rows.push(position);
  }
  return rows;
}
