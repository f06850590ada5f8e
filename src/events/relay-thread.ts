import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import { DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';
import { createLogger } from '../infrastructure/observability/logger.js';
import { EventBus } from './event-bus.js';
import { OutboxRelay, type RelayReporter } from './outbox-relay.js';
import { RelaySession } from './relay-session.js';

/** What the relay's thread needs: it shares nothing else with the main thread. */
interface RelayThreadData {
  databaseUrl: string;
  eventBusUrl: string;
  logLevel: string;
}

type RelayReport = { leading: boolean } | { published: string; count: number };

/** After the relay's thread died (a bug, memory), the next start. */
const RESTART_MS = 1000;
/** How long a stopping relay may take to end its round and close before its thread is terminated. */
const STOP_TIMEOUT_MS = 5000;

/**
 * The outbox relay in a worker thread of its own (docs/events.md): its reads, the building of the
 * events and their publication run on another event loop, so they neither delay the sockets'
 * events (a round of 500 events is milliseconds of work) nor wait behind them (a relay starved by
 * the sends fell behind: docs/performance.md). It has its own database session and NATS
 * connection, and reports to the main thread's `RelayReporter` by message. Its logs are the relay's; it
 * has no tracing (spans of the main thread's SDK). Restarted when it dies.
 */
export class RelayThread {
  private worker: Worker | undefined;
  private stopping = false;
  private restart: NodeJS.Timeout | undefined;

  constructor(
    private readonly data: RelayThreadData,
    private readonly reporter: RelayReporter,
    private readonly logger: Logger,
  ) {}

  /**
   * Whether the relay can run in a thread: from the built service. Run from its TypeScript sources
   * (the in-process specs), the worker would load sources Node cannot run, so the caller runs the
   * relay on the main thread instead.
   */
  static get available(): boolean {
    return import.meta.url.endsWith('.js');
  }

  start(): void {
    this.stopping = false;
    const worker = new Worker(new URL(import.meta.url), { workerData: this.data, name: 'outbox relay' });
    this.worker = worker;
    worker.on('message', (report: RelayReport) => {
      if ('leading' in report) this.reporter.leading(report.leading);
      else this.reporter.published(report.published, report.count);
    });
    worker.on('error', (error) => this.logger.error({ err: error }, `outbox relay thread failed: ${error.message}`));
    worker.on('exit', (code) => {
      this.worker = undefined;
      this.reporter.leading(false);
      if (this.stopping) return;
      this.logger.error(`outbox relay thread exited (${code}); starting it again in ${RESTART_MS} ms`);
      this.restart = setTimeout(() => this.start(), RESTART_MS);
    });
  }

  /** Stops the relay (it ends its round and closes its session and connection), then the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const late = setTimeout(() => {
      this.logger.warn(`outbox relay thread did not stop within ${STOP_TIMEOUT_MS} ms; terminating it (its events stay in the outbox)`);
      void worker.terminate();
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(late);
  }
}

/** The thread's side: the relay with its own session, NATS connection and logger. */
async function runRelayThread(data: RelayThreadData): Promise<void> {
  const port = parentPort!;
  const logger = createLogger(data.logLevel).child({ component: 'events', thread: 'outbox relay' });
  const report: RelayReporter = {
    leading: (leading) => port.postMessage({ leading } satisfies RelayReport),
    published: (subject, count) => port.postMessage({ published: subject, count } satisfies RelayReport),
  };
  const bus = new EventBus({ url: data.eventBusUrl, state: new DependencyStateLogger(logger, 'nats (outbox relay)') });
  const relay = new OutboxRelay({ openRelaySession: () => RelaySession.open(data.databaseUrl) }, bus, new DependencyStateLogger(logger, 'outbox relay'), logger, report);
  port.on('message', (message) => {
    if (message !== 'stop') return;
    void relay
      .stop()
      .then(() => bus.close())
      .finally(() => port.close());
  });
  relay.start();
  bus.start();
}

if (!isMainThread && (workerData as { eventBusUrl?: unknown } | undefined)?.eventBusUrl) void runRelayThread(workerData as RelayThreadData);
