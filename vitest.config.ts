import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// SWC compiles the tests as Nest needs them: legacy decorators with emitted metadata.
const compiler = swc.vite({ module: { type: 'es6' } });

// The workspace package is tested from its sources, as tsc checks it ("@platform/source" in its
// exports); the built package is what the service runs, the demo bundles and `npm pack` ships.
const client = (subpath: string) => fileURLToPath(new URL(`./packages/client/src/${subpath}`, import.meta.url));
const resolve = {
  alias: [
    { find: /^@platform\/messaging-client$/, replacement: client('index.ts') },
    { find: /^@platform\/messaging-client\/contract$/, replacement: client('contract/index.ts') },
    { find: /^@platform\/messaging-client\/react$/, replacement: client('react/index.ts') },
  ],
};

/**
 * A project's files share their worker's loaded modules: without this, every file loads the service
 * (Nest, Prisma, OpenTelemetry, gRPC) again, which was a third of the CPU time of the unit,
 * integration and e2e runs (issue #17). Every spec starts and stops what it uses, and none relies
 * on a module's state being fresh. The chaos suite keeps a process per file.
 */
const isolate = false;

/**
 * Vitest's order (project by project in name order, the longest files first within each), except
 * that the reliability project's files start first: test/reliability/faults.spec.ts is the longest
 * file of the run (its faults one after the other), and started after the other projects' files it
 * would run on alone at the end (issue #17).
 */
class ReliabilityFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const reliability = (spec: TestSpecification) => spec.project.name === 'reliability';
    return [...sorted.filter(reliability), ...sorted.filter((spec) => !reliability(spec))];
  }
}

export default defineConfig({
  plugins: [compiler],
  resolve,
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    sequence: { sequencer: ReliabilityFirst },
    // The real services checked and a database for each project that uses them (test/support/global-setup.ts).
    globalSetup: ['./test/support/global-setup.ts'],
    // Vitest's default on two cores is one file at a time (cores − 1). Most of a spec's time is spent
    // waiting on sockets, child processes and PostgreSQL, so three files share the two cores
    // (issue #17); test/reliability/faults.spec.ts, whose faults start service processes one after
    // the other, takes one of them.
    maxWorkers: 3,
    projects: [
      {
        plugins: [compiler],
        resolve,
        test: { name: 'unit', include: ['src/**/*.spec.ts', 'packages/client/src/**/*.spec.ts'], environment: 'node', isolate },
      },
      {
        plugins: [compiler],
        resolve,
        test: {
          name: 'integration',
          isolate,
          include: ['test/integration/**/*.spec.ts'],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [compiler],
        resolve,
        test: {
          name: 'e2e',
          isolate,
          include: ['test/e2e/**/*.spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [compiler],
        resolve,
        test: {
          // What ships beside the code: the supported runtime, the image's file set, the Kubernetes
          // manifests, the dashboard and alert rules (test/deploy, docs/operations.md).
          name: 'deploy',
          isolate,
          include: ['test/deploy/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [compiler],
        resolve,
        test: {
          // The demo web client in Debian's Chromium through playwright-core (test/browser).
          name: 'browser',
          isolate,
          include: ['test/browser/**/*.spec.ts'],
          globalSetup: ['./test/browser/support/build-demo.setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [compiler],
        resolve,
        test: {
          // Faults and hostile input (test/reliability, docs/reliability.md): what each fault must not
          // break (nothing acknowledged lost, nothing accepted that must not be), on short runs. Their
          // latency bounds and long runs are in the chaos suite, so these run beside the other projects;
          // the faults that start service processes one after the other (faults.spec.ts).
          name: 'reliability',
          isolate,
          include: ['test/reliability/**/*.spec.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      // The long fault runs (test/chaos): only with CHAOS=1, which `npm run test:chaos` sets.
      ...(process.env.CHAOS === '1'
        ? [
            {
              plugins: [compiler],
              resolve,
              test: {
                name: 'chaos',
                include: ['test/chaos/**/*.spec.ts'],
                testTimeout: 600_000,
                hookTimeout: 120_000,
                sequence: { groupOrder: 2 },
                maxWorkers: 1,
              },
            },
          ]
        : []),
    ],
  },
});
