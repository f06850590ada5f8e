import type { Logger } from 'pino';

/** The part of a pino logger the state logger writes to. */
export type StateLog = Pick<Logger, 'error' | 'info'>;

/**
 * Logs one dependency's failures with their cause, once per change of state: the first failure
 * after it was healthy, each other cause seen during the same outage once (a refused connection
 * that becomes a refused password, a reset connection followed by refused reconnections), and the
 * recovery. Clients that retry in the background (ioredis, pg, gRPC) report the same errors on
 * every attempt, several a second for as long as an outage lasts, sometimes alternating between
 * two: logging each would bury everything else, logging none (as the no-op 'error' listeners did)
 * leaves a wrong password without a trace.
 */
export class DependencyStateLogger {
  /** The causes logged since the dependency was last healthy; empty while it is. */
  private readonly causes = new Set<string>();

  constructor(
    private readonly log: StateLog,
    readonly dependency: string,
  ) {}

  get healthy(): boolean {
    return this.causes.size === 0;
  }

  failed(error: unknown): void {
    const cause = causeOf(error);
    if (this.causes.has(cause)) return;
    this.causes.add(cause);
    this.log.error({ dependency: this.dependency, err: summary(error) }, `${this.dependency} is failing: ${cause}`);
  }

  recovered(): void {
    if (this.causes.size === 0) return;
    this.causes.clear();
    this.log.info({ dependency: this.dependency }, `${this.dependency} is available again`);
  }
}

/**
 * One state logger per dependency name for the whole process, so that two observers of one
 * dependency (the pg pool's events and the readiness monitor's probe, say) share one state and log
 * a change once. Provided by ObservabilityModule on the process's logger.
 */
export class DependencyStates {
  private readonly states = new Map<string, DependencyStateLogger>();

  constructor(private readonly log: StateLog) {}

  of(dependency: string): DependencyStateLogger {
    let state = this.states.get(dependency);
    if (!state) this.states.set(dependency, (state = new DependencyStateLogger(this.log, dependency)));
    return state;
  }
}

/**
 * What of an error is logged: its kind, code, message and stack, and nothing else. Client errors
 * carry what was sent: an ioredis ReplyError to a refused HELLO holds `command.args`, the password
 * among them.
 */
function summary(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, ...(code === undefined ? {} : { code }), message: error.message, stack: error.stack };
}

/**
 * A short, stable description of an error: its code and message, and those of what it wraps
 * (an AggregateError from a dual-stack connect has an empty message and the real ones inside).
 */
export function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const parts = [typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message];
  if (error instanceof AggregateError) parts.push(...error.errors.map(causeOf));
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== error) parts.push(causeOf(cause));
  return [...new Set(parts.filter(Boolean))].join('; ') || error.name;
}
