import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { ConnectionsChecker } from '../connections/connections.checker.js';
import { DependencyStates } from '../infrastructure/observability/dependency-state.js';
import { PrismaModule } from '../infrastructure/prisma/prisma.module.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { LOGGER } from '../infrastructure/observability/observability.module.js';
import { ConnectionRemovals } from './connection-removals.js';
import { EventBus } from './event-bus.js';
import { OutboxRelay, type RelayReporter } from './outbox-relay.js';
import { OutboxRepository } from './outbox.repository.js';
import { RelayThread } from './relay-thread.js';

/** The NATS dependency's name in dependency-state log lines. */
export const EVENT_BUS_DEPENDENCY = 'nats (event bus)';

/**
 * The platform events (CONTRACT §8, docs/events.md), when EVENT_BUS_URL is set: the NATS
 * connection, the outbox relay and the consumer of connection removals. Without it, nothing runs
 * (and the repositories record no events).
 */
@Injectable()
export class PlatformEvents implements OnApplicationBootstrap, OnApplicationShutdown {
  private bus: EventBus | undefined;
  private relay: OutboxRelay | RelayThread | undefined;
  private removals: ConnectionRemovals | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: OutboxRepository,
    private readonly checker: ConnectionsChecker,
    private readonly states: DependencyStates,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const url = this.config.eventBusUrl;
    if (!url) return;
    const state = this.states.of(EVENT_BUS_DEPENDENCY);
    const logger = this.logger.child({ component: 'events' });
    this.bus = new EventBus({ url, consumer: this.config.eventBusConsumer, state });
    const reporter: RelayReporter = {
      leading: (leading) => this.metrics.outboxRelayLeader.set(leading ? 1 : 0),
      published: (subject, count) => this.metrics.eventsPublished.inc({ subject }, count),
    };
    this.relay = RelayThread.available
      ? new RelayThread({ databaseUrl: this.outbox.databaseUrl, eventBusUrl: url, logLevel: this.config.logLevel }, reporter, logger)
      : new OutboxRelay(this.outbox, this.bus, this.states.of('outbox relay'), logger, reporter);
    this.removals = new ConnectionRemovals(this.bus, this.checker, this.states.of('connection removals'), logger);
    this.metrics.outboxSource = () => this.outbox.backlog();
    this.relay.start();
    this.removals.start();
    this.bus.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.removals?.stop();
    await this.relay?.stop();
    await this.bus?.close();
  }
}

@Module({ imports: [PrismaModule], providers: [OutboxRepository, PlatformEvents] })
export class EventsModule {}
