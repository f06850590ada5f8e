import type { ErrorCode } from '@platform/messaging-client/contract';

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

/** INTERNAL and UNAVAILABLE are the service's to look into (a bug, an outage); the other codes are the caller's. */
export function isServerFault(error: AppError): boolean {
  return error.code === 'INTERNAL' || error.code === 'UNAVAILABLE';
}
