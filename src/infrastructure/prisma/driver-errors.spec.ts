import { describe, expect, it } from 'vitest';
import { AppError } from '../../contract/app-error.js';
import { toAppError } from './driver-errors.js';

describe('toAppError', () => {
  it('keeps an AppError as it is', () => {
    const error = new AppError('PERMISSION_DENIED', 'no');
    expect(toAppError(error)).toBe(error);
  });

  it('reads a dependency outage as UNAVAILABLE, wherever the driver put it', () => {
    // What Prisma throws for a raw query whose connection PostgreSQL closed (P2010): the driver's
    // error is in meta.driverAdapterError, not in cause (docs/reliability.md, "PostgreSQL stopped").
    const rawQueryFailed = Object.assign(new Error('Raw query failed. Code: `N/A`. Message: `Server has closed the connection.`'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2010',
      meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } } },
    });
    expect(toAppError(rawQueryFailed).code).toBe('UNAVAILABLE');
    expect(toAppError(Object.assign(new Error('x'), { meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } } })).code).toBe('UNAVAILABLE');
    expect(toAppError(new Error('wrapped', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) })).code).toBe('UNAVAILABLE');
    expect(toAppError(new Error('Connection terminated unexpectedly')).code).toBe('UNAVAILABLE');
    // pg's pool, when no connection came within connectionTimeoutMillis (seen under a read flood).
    expect(toAppError(new Error('timeout exceeded when trying to connect')).code).toBe('UNAVAILABLE');
  });

  it('reads anything else as INTERNAL, a failed query that is no outage included', () => {
    expect(toAppError(new Error('boom')).code).toBe('INTERNAL');
    expect(toAppError(Object.assign(new Error('x'), { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '22P02' } } } })).code).toBe('INTERNAL');
    expect(toAppError('a string').code).toBe('INTERNAL');
  });
});
