import { createHash } from 'node:crypto';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { createScratchDatabase } from '../support/services.js';

type Scratch = Awaited<ReturnType<typeof createScratchDatabase>>;

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}

describe('migrator on an empty database', () => {
  const scratches: Scratch[] = [];
  let migrationNames: string[];
  let checksums: Map<string, string>;

  async function scratch(): Promise<Scratch> {
    // One prefix per database: the scratch name is only unique to the millisecond.
    const database = await createScratchDatabase(`messaging_test_migrator${scratches.length}`);
    scratches.push(database);
    return database;
  }

  async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  const migrationRows = (url: string) =>
    query<MigrationRow>(url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');

  async function tables(url: string): Promise<string[]> {
    const rows = await query<{ name: string }>(url, "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    return rows.map((row) => row.name);
  }

  beforeAll(async () => {
    const dir = defaultMigrationsDir();
    migrationNames = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    checksums = new Map();
    for (const name of migrationNames) {
      checksums.set(name, createHash('sha256').update(await readFile(path.join(dir, name, 'migration.sql'))).digest('hex'));
    }
  });

  afterAll(async () => {
    for (const database of scratches) await database.drop();
  });

  it('finds the migrations of the repository', () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    expect(migrationNames).toContain('20261124000000_init');
  });

  it('applies every migration and records it as Prisma does, with its sha256 checksum', async () => {
    const database = await scratch();
    expect(await tables(database.url)).toEqual([]);
    const result = await migrate(database.url, defaultMigrationsDir());
    expect(result.applied).toEqual(migrationNames);

    expect(await tables(database.url)).toEqual(['_prisma_migrations', 'conversation', 'message', 'outbox_event']);
    const indexes = await query<{ indexname: string }>(database.url, "SELECT indexname FROM pg_indexes WHERE tablename = 'message'");
    // Each index of the message table has its reason in docs/design.md ("Storage"); no other.
    expect(indexes.map((row) => row.indexname).sort()).toEqual([
      'message_conversation_seq_key',
      'message_pkey',
      'message_sender_client_message_id_key',
      'message_undelivered_by_recipient_idx',
    ]);
    // The outbox is read in position order and deleted by position: its primary key, nothing else.
    const outboxIndexes = await query<{ indexname: string }>(database.url, "SELECT indexname FROM pg_indexes WHERE tablename = 'outbox_event'");
    expect(outboxIndexes.map((row) => row.indexname)).toEqual(['outbox_event_pkey']);

    const rows = await migrationRows(database.url);
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.checksum).toBe(checksums.get(row.migration_name));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }

    // A second run finds everything applied and changes nothing.
    const again = await migrate(database.url, defaultMigrationsDir());
    expect(again.applied).toEqual([]);
    expect(await migrationRows(database.url)).toEqual(rows);
  });

  it('lets 4 concurrent runs succeed while the schema is applied exactly once', async () => {
    const database = await scratch();
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(database.url, defaultMigrationsDir())));
    const applied = results.map((result) => result.applied);
    expect(applied.filter((names) => names.length > 0)).toEqual([migrationNames]);
    expect(applied.flat()).toEqual(migrationNames);
    const rows = await migrationRows(database.url);
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    expect(await tables(database.url)).toEqual(['_prisma_migrations', 'conversation', 'message', 'outbox_event']);
    // The lock was released: nobody holds it any more.
    const locks = await query<{ n: number }>(
      database.url,
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    expect(locks[0].n).toBe(0);
  });

  describe('with a migrations folder the test controls', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'messaging-migrations-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a migration modified after it was applied, naming it, and changes nothing', async () => {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      const database = await scratch();
      await migrate(database.url, dir);
      const before = await migrationRows(database.url);

      const [first] = migrationNames;
      await appendFile(path.join(dir, first, 'migration.sql'), '\n-- edited after release\n');
      await mkdir(path.join(dir, '99990101000000_later'));
      await writeFile(path.join(dir, '99990101000000_later', 'migration.sql'), 'CREATE TABLE later (id int);');

      await expect(migrate(database.url, dir)).rejects.toThrow(`migration ${first} was modified after it was applied`);
      expect(await migrationRows(database.url)).toEqual(before);
      expect(await tables(database.url)).not.toContain('later');
    });

    it('refuses a stored checksum that does not match the file', async () => {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      const database = await scratch();
      await migrate(database.url, dir);
      const [first] = migrationNames;
      await query(database.url, 'UPDATE "_prisma_migrations" SET checksum = $1 WHERE migration_name = $2', ['0'.repeat(64), first]);
      await expect(migrate(database.url, dir)).rejects.toThrow(/was modified after it was applied/);
    });

    it('rolls back a failing migration entirely and reports which one failed', async () => {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      const database = await scratch();
      await migrate(database.url, dir);
      const before = await migrationRows(database.url);
      await mkdir(path.join(dir, '99990101000000_broken'));
      await writeFile(
        path.join(dir, '99990101000000_broken', 'migration.sql'),
        'CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;',
      );
      await expect(migrate(database.url, dir)).rejects.toThrow(/migration 99990101000000_broken failed: .*no_such_table/);
      expect(await migrationRows(database.url)).toEqual(before);
      expect(await tables(database.url)).not.toContain('half_done');

      // Once fixed, it applies.
      await writeFile(path.join(dir, '99990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);');
      expect((await migrate(database.url, dir)).applied).toEqual(['99990101000000_broken']);
    });

    it('refuses to start over a migration recorded as unfinished', async () => {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      const database = await scratch();
      await migrate(database.url, dir);
      const [first] = migrationNames;
      await query(database.url, 'UPDATE "_prisma_migrations" SET finished_at = NULL WHERE migration_name = $1', [first]);
      await expect(migrate(database.url, dir)).rejects.toThrow(`migration ${first} failed earlier`);
    });
  });
});
