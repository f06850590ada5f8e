import type { ErrorCode } from '@platform/messaging-client/contract';

/** The contract's error codes are defined once, beside the payload schemas, in the client package. */
export { ERROR_CODES, type ErrorCode } from '@platform/messaging-client/contract';

/** The one error type of the service: a stable code and a message safe to show the caller. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    // No stack: an AppError is an answer to the caller, not a bug, and capturing a stack cost
    // about 10 µs per refused event under a flood (docs/performance.md). A wrapped cause keeps its own.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'AppError';
  }

  static invalidArgument(message: string): AppError {
    return new AppError('INVALID_ARGUMENT', message);
  }
  static permissionDenied(message = 'not a participant of this conversation'): AppError {
    return new AppError('PERMISSION_DENIED', message);
  }
  static unavailable(message: string, cause?: unknown): AppError {
    return new AppError('UNAVAILABLE', message, { cause });
  }
}

/** Anything that is not an AppError is a bug or an outage; callers see INTERNAL or UNAVAILABLE only. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDependencyOutage(error)) return AppError.unavailable('a dependency could not answer; retry', error);
  return new AppError('INTERNAL', 'internal error', { cause: error });
}

/** INTERNAL and UNAVAILABLE are the service's to look into (a bug, an outage); the other codes are the caller's. */
export function isServerFault(error: AppError): boolean {
  return error.code === 'INTERNAL' || error.code === 'UNAVAILABLE';
}

/** What lies under a failure, for the log: the caller only ever sees the AppError's own message. */
export function describeCause(caught: unknown): string {
  const cause = (caught as { cause?: unknown }).cause ?? caught;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'P1001', 'P1002', 'P1017', 'P2024', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

/**
 * Walks the error and its causes. A failed raw query through Prisma's driver adapter (P2010) does
 * not chain the driver's error as `cause` but puts it in `meta.driverAdapterError`, whose own
 * `cause.kind` says `ConnectionClosed` when PostgreSQL went away: followed too.
 */
function isDependencyOutage(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const candidate = current as {
      code?: unknown;
      kind?: unknown;
      message?: unknown;
      cause?: unknown;
      originalCode?: unknown;
      meta?: { driverAdapterError?: unknown };
    };
    if (typeof candidate.code === 'string' && OUTAGE_CODES.has(candidate.code)) return true;
    if (typeof candidate.originalCode === 'string' && OUTAGE_CODES.has(candidate.originalCode)) return true;
    if (candidate.kind === 'DatabaseNotReachable' || candidate.kind === 'ConnectionClosed' || candidate.kind === 'SocketTimeout') return true;
    // "timeout exceeded when trying to connect": pg's pool found no connection within its
    // connectionTimeoutMillis (all busy, or PostgreSQL slow to accept): the database did not answer in time.
    if (typeof candidate.message === 'string' && /Connection terminated|connection timeout|timeout exceeded when trying to connect|ECONNREFUSED|Can't reach database/i.test(candidate.message)) return true;
    current = candidate.cause ?? candidate.meta?.driverAdapterError;
  }
  return false;
}
