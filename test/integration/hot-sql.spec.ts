import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { DependencyStates } from '../../src/infrastructure/observability/dependency-state.js';
import { createLogger } from '../../src/infrastructure/observability/logger.js';
import { HotSql, statement } from '../../src/infrastructure/prisma/hot-sql.js';
import { PrismaService } from '../../src/infrastructure/prisma/prisma.service.js';
import { createScratchDatabase } from '../support/services.js';

/** The driver path of the hot statements: a statement PostgreSQL refuses must not cost the connection. */
describe('HotSql', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let prisma: PrismaService;
  let sql: HotSql;
  const BACKEND = statement('test_backend_pid', 'SELECT pg_backend_pid()');
  const backend = async () => (await sql.rows(BACKEND, []))[0]![0] as number;

  beforeAll(async () => {
    scratch = await createScratchDatabase('messaging_test_hot_sql');
    prisma = new PrismaService(loadConfig({ NODE_ENV: 'test', DATABASE_URL: scratch.url, DATABASE_POOL_SIZE: '1' }), new DependencyStates(createLogger('silent')));
    sql = new HotSql(prisma);
  });
  afterAll(async () => {
    await prisma?.onApplicationShutdown();
    await scratch?.drop();
  });

  it('returns rows as arrays, through statements prepared once per connection', async () => {
    const add = statement('test_add', 'SELECT $1::int + $2::int, $3::text');
    expect(await sql.rows(add, [1, 2, 'x'])).toEqual([[3, 'x']]);
    expect(await sql.rows(add, [4, 5, 'y'])).toEqual([[9, 'y']]);
  });

  it('keeps the connection through statements PostgreSQL refuses, and still reports them', async () => {
    const before = await backend();
    await expect(sql.rows(statement('test_divide', 'SELECT 1 / $1::int'), [0])).rejects.toMatchObject({ code: '22012' });
    await expect(sql.rows(statement('test_cast', 'SELECT $1::int'), ['not a number'])).rejects.toMatchObject({ code: '22P02' });
    expect(await backend()).toBe(before);
    expect(prisma.pool.totalCount).toBe(1);
  });

  it('discards a connection that broke', async () => {
    const before = await backend();
    await expect(sql.rows(statement('test_terminate', 'SELECT pg_terminate_backend(pg_backend_pid())'), [])).rejects.toThrow();
    expect(await backend()).not.toBe(before);
  });
});
