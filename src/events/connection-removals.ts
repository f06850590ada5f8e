import type { Logger } from 'pino';
import type { ConnectionsChecker } from '../connections/connections.checker.js';
import { connectionRemovedSchema } from '../contract/events.js';
import type { DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';
import { traced } from '../infrastructure/observability/tracing.js';
import type { EventBus } from './event-bus.js';

/** After the consume loop ended while the bus is up (a deleted consumer, say), the next try. */
const RESTART_MS = 1000;

/**
 * Consumes connections.v1.connection.removed with the durable consumer (CONTRACT §8): each event
 * reaches one instance, which revokes the pair on every instance (ConnectionsChecker.revoke) and
 * only then acknowledges; a revocation that could not be passed on is redelivered. A malformed
 * event is logged and terminated (redelivering it would not make it valid).
 */
export class ConnectionRemovals {
  private running = false;
  private consuming = false;
  private stopCurrent: (() => void) | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly checker: ConnectionsChecker,
    private readonly state: DependencyStateLogger,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.bus.onReady(() => void this.consume());
  }

  stop(): void {
    this.running = false;
    this.stopCurrent?.();
  }

  private async consume(): Promise<void> {
    if (this.consuming || !this.running) return;
    this.consuming = true;
    try {
      const consumer = await this.bus.removalsConsumer();
      const messages = await consumer.consume({ max_messages: 100 });
      this.stopCurrent = () => void messages.close();
      for await (const message of messages) {
        const parsed = connectionRemovedSchema.safeParse(safeJson(message.string()));
        if (!parsed.success) {
          this.logger.error({ subject: message.subject, seq: message.seq, problems: parsed.error.issues.map((issue) => issue.message) }, 'a connection.removed event is malformed; dropped');
          message.term();
          continue;
        }
        const { userIdA, userIdB, eventId } = parsed.data;
        try {
          await traced('connections.removed', { 'messaging.system': 'nats', 'messaging.message.id': eventId }, () => this.checker.revoke(userIdA, userIdB));
          message.ack();
        } catch (error) {
          this.state.failed(error);
          message.nak(RESTART_MS);
        }
      }
    } catch (error) {
      this.state.failed(error);
    } finally {
      this.consuming = false;
      this.stopCurrent = undefined;
    }
    if (this.running && this.bus.ready) setTimeout(() => void this.consume(), RESTART_MS).unref();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
