import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/** Prisma's own advisory lock key, so that `prisma migrate deploy` and this runner exclude each other. */
const PRISMA_MIGRATION_LOCK = 72707369;

export interface MigrationResult {
  applied: string[];
}

/**
 * Applies prisma/migrations/<name>/migration.sql in name order, writing the same
 * `_prisma_migrations` rows Prisma does: Prisma 7's CLI cannot migrate offline (it needs a native
 * engine), and a database migrated here is reported up to date by `prisma migrate status`.
 * Each migration runs in its own transaction under the advisory lock, so several instances can
 * start at once.
 */
export async function migrate(databaseUrl: string, migrationsDir: string): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const done = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const applied = new Map(done.rows.map((row) => [row.migration_name, row]));
    const names = (await readdir(migrationsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    const result: string[] = [];
    for (const name of names) {
      const sql = await readFile(path.join(migrationsDir, name, 'migration.sql'));
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = applied.get(name);
      if (previous) {
        if (!previous.finished_at) throw new Error(`migration ${name} failed earlier; resolve it before starting`);
        if (previous.checksum !== checksum) throw new Error(`migration ${name} was modified after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        const id = randomUUID();
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
          [id, checksum, name],
        );
        await client.query(sql.toString('utf8'));
        await client.query(
          'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
          [id],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      result.push(name);
    }
    return { applied: result };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

export function defaultMigrationsDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../prisma/migrations');
}
