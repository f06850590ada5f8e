import { ConfigError, loadConfig } from '../config/config.js';
import { startEmbeddedPostgres } from '../infrastructure/embedded/embedded-postgres.js';
import { defaultMigrationsDir, migrate } from '../infrastructure/prisma/migrator.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database. */
async function run(): Promise<void> {
  const config = loadConfig(process.env);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, (line) => console.log(line));
  try {
    const result = await migrate(config.databaseUrl ?? embedded!.url, defaultMigrationsDir());
    console.log(result.applied.length > 0 ? `applied: ${result.applied.join(', ')}` : 'database already up to date');
  } finally {
    await embedded?.stop();
  }
}

run().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`);
  process.exit(1);
});
