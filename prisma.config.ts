import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';

// Prisma 7's CLI looks for a native schema engine before any command and cannot download one
// offline. `generate` never runs it, so any existing file satisfies the check. Migrations are
// plain SQL applied by our own runner (src/infrastructure/prisma/migrator.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
