import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Once per run of the browser project: bundle the demo client (the tests serve it from dist/public). */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: apt-get update && apt-get install -y chromium (.ci/run does this)');
  }
}
