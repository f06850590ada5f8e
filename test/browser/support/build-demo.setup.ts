import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Once per run of the browser project: build the client package, then bundle the demo on it (the tests serve it from dist/public). */
export default function setup(): void {
  execFileSync('npm', ['run', '-s', 'build:client'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, ['scripts/build-demo.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: apt-get update && apt-get install -y chromium (.ci/run does this)');
  }
}
