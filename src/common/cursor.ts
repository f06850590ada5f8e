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
