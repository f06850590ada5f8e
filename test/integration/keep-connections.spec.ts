import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepConnectionsOnSqlErrors } from '../../src/infrastructure/prisma/keep-connections-on-sql-errors.js';
import { createScratchDatabase } from '../support/services.js';

/** The pool under Prisma: an error PostgreSQL answers with must not cost the connection. */
describe('keepConnectionsOnSqlErrors', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let pool: pg.Pool;
  const backend = async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

  beforeAll(async () => {
    scratch = await createScratchDatabase('messaging_test_keep_connections');
    pool = keepConnectionsOnSqlErrors(new pg.Pool({ connectionString: scratch.url, max: 1 }));
    // As in PrismaService: a connection that breaks while idle is reported here, not thrown.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await scratch?.drop();
  });

  it('keeps the connection through statements PostgreSQL refuses, and still reports them', async () => {
    const before = await backend();
    await expect(pool.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    await expect(pool.query({ text: 'SELECT $1::int', values: ['not a number'] })).rejects.toMatchObject({ code: '22P02' });
    expect(await backend()).toBe(before);
    expect(pool.totalCount).toBe(1);
  });

  it('discards a connection that broke', async () => {
    const before = await backend();
    await expect(pool.query({ text: 'SELECT pg_terminate_backend(pg_backend_pid())' })).rejects.toThrow();
    expect(await backend()).not.toBe(before);
  });

  it('leaves the callback form to pg', async () => {
    const rows = await new Promise<unknown[]>((resolve, reject) => pool.query('SELECT 2 AS n', (error, result) => (error ? reject(error) : resolve(result.rows))));
    expect(rows).toEqual([{ n: 2 }]);
  });
});
