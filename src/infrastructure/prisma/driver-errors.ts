import { AppError } from '../../contract/app-error.js';

// What the drivers throw (Prisma and its pg adapter, pg's pool, a socket) read as the contract's
// AppError: the one mapping both transports apply to whatever a call threw (docs/api.md, "Errors").

/** Anything that is not an AppError is a bug or an outage; callers see INTERNAL or UNAVAILABLE only. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDependencyOutage(error)) return AppError.unavailable('a dependency could not answer; retry', error);
  return new AppError('INTERNAL', 'internal error', { cause: error });
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
