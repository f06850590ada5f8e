import type { z } from 'zod';
import { AppError } from './app-error.js';

/** Parses a client payload with its schema; any mismatch is INVALID_ARGUMENT naming the fields. */
export function parsePayload<S extends z.ZodType>(schema: S, payload: unknown): z.output<S> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const details = result.error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
  throw AppError.invalidArgument(details || 'malformed payload');
}
