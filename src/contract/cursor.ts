import { AppError } from './app-error.js';

/**
 * Opaque keyset cursors: a versioned tuple, base64url-encoded. Clients must not parse them;
 * anything that does not decode to the expected shape is INVALID_ARGUMENT.
 */
export function encodeCursor(kind: string, values: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([kind, ...values]), 'utf8').toString('base64url');
}

export function decodeCursor<T extends ReadonlyArray<unknown>>(
  kind: string,
  raw: string,
  accept: (values: unknown[]) => values is [...T],
): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw AppError.invalidArgument('malformed cursor');
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind) throw AppError.invalidArgument('malformed cursor');
  const values = parsed.slice(1);
  if (!accept(values)) throw AppError.invalidArgument('malformed cursor');
  return values as unknown as T;
}

/**
 * Checks for the values inside a cursor. A forged cursor that passes them reaches a query, so each
 * one holds only what PostgreSQL accepts for its column: anything else would fail there and answer
 * INTERNAL instead of INVALID_ARGUMENT (CONTRACT §3.4).
 */
export const cursorValue = {
  /** A seq: a positive PostgreSQL INTEGER (2147483648 overflows it). */
  seq: (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= 2 ** 31 - 1,
  /** A UUID in its canonical layout (36 dashes are 36 characters too). */
  uuid: (value: unknown): value is string => typeof value === 'string' && UUID.test(value),
  /**
   * A timestamp exactly as toISOString() writes it for years 0001–9999: a date JavaScript parses but
   * PostgreSQL cannot hold (-271821, +275760) is refused, and so is any other spelling.
   */
  timestamp: (value: unknown): value is string => typeof value === 'string' && ISO_TIMESTAMP.test(value) && isRoundTrip(value),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isRoundTrip = (value: string) => {
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value && value >= '0001';
};
