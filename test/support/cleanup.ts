import { onTestFinished } from 'vitest';

/**
 * Cleanup of a test's processes, servers and sockets that runs even when the test times out
 * (vitest then abandons the test body, so a `finally` in it never runs, and spawned processes
 * would outlive the run). Tasks run once, last added first, each failure ignored.
 */
export type TestCleanup = ReturnType<typeof testCleanup>;

export function testCleanup() {
  const tasks: Array<() => unknown> = [];
  let running: Promise<void> | undefined;
  const run = () =>
    (running ??= (async () => {
      for (const task of tasks.reverse()) {
        try {
          await task();
        } catch {
          // Best effort: the next task still runs.
        }
      }
    })());
  onTestFinished(run);
  return {
    add<T extends () => unknown>(task: T): void {
      tasks.push(task);
    },
    run,
  };
}
