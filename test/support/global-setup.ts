import type { TestProject } from 'vitest/node';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { createScratchDatabase, requireServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/** Once per project: check the real services, then a fresh, migrated database for this run. */
export default async function setup(project: TestProject) {
  await requireServices();
  const database = await createScratchDatabase(`messaging_test_${project.name}`);
  await migrate(database.url, defaultMigrationsDir());
  project.provide('databaseUrl', database.url);
  return () => database.drop();
}
