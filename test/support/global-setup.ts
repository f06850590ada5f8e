import type { TestProject } from 'vitest/node';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { createScratchDatabase, requireServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * Once per run (the root's global setup): check the real services, then a fresh, migrated database
 * for each project of the run but the unit specs (which use fakes), made side by side. One setup
 * for all projects: Vitest runs the projects' own global setups one after the other, each loading
 * this module again, which cost several seconds before the first test (issue #17).
 */
export default async function setup(root: TestProject) {
  const projects = root.vitest.projects.filter((project) => project.name !== 'unit');
  if (projects.length === 0) return;
  await requireServices();
  const made = await Promise.allSettled(
    projects.map(async (project) => {
      const database = await createScratchDatabase(`messaging_test_${project.name}`);
      await migrate(database.url, defaultMigrationsDir()).catch(async (error: unknown) => {
        await database.drop();
        throw error;
      });
      project.provide('databaseUrl', database.url);
      return database;
    }),
  );
  const databases = made.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = made.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await Promise.all(databases.map((database) => database.drop()));
    throw failed.reason;
  }
  return async () => {
    await Promise.all(databases.map((database) => database.drop()));
  };
}
