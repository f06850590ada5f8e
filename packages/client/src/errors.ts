import type { AckError } from './contract/socket-contract.js';

/** The error codes of the contract (CONTRACT §3). */
export type ServerErrorCode = AckError['code'];

/**
 * What can go wrong with a call: a server error code, or one of the client's own:
 * `TIMEOUT` (no acknowledgement in time; the server may or may not have acted) and
 * `NOT_CONNECTED` (the socket is down, or the client was closed).
 */
export type ClientErrorCode = ServerErrorCode | 'TIMEOUT' | 'NOT_CONNECTED';

export class MessagingError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MessagingError';
  }
}

/**
 * Worth another attempt: nothing was changed (UNAVAILABLE, RESOURCE_EXHAUSTED), or the outcome is
 * unknown and a repeat is safe because the server deduplicates (TIMEOUT, NOT_CONNECTED).
 */
export const RETRYABLE_CODES: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>(['TIMEOUT', 'NOT_CONNECTED', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED']);

export function isRetryable(error: MessagingError): boolean {
  return RETRYABLE_CODES.has(error.code);
}

export function toMessagingError(error: unknown): MessagingError {
  if (error instanceof MessagingError) return error;
  return new MessagingError('INTERNAL', error instanceof Error ? error.message : String(error));
}
