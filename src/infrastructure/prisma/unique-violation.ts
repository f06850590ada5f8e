/** True when a Prisma raw query failed on the named unique index (PostgreSQL 23505). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const candidate = current as { code?: unknown; originalCode?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
    const code = candidate.originalCode ?? candidate.code;
    if (code === '23505' && typeof candidate.message === 'string' && candidate.message.includes(constraint)) return true;
    if (code === '23505' && candidate.message === undefined) return true;
    current = candidate.meta?.driverAdapterError ?? candidate.cause;
  }
  return false;
}
