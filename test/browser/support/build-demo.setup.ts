import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The newest modification time of a file, or of any file under a folder. */
function newest(...paths: string[]): number {
  return Math.max(
    ...paths.flatMap((entry) =>
      statSync(entry).isDirectory()
        ? readdirSync(entry, { recursive: true, withFileTypes: true }).filter((file) => file.isFile()).map((file) => statSync(path.join(file.parentPath, file.name)).mtimeMs)
        : [statSync(entry).mtimeMs],
    ),
  );
}

const builtAt = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : 0);

/**
 * Once per run of the browser project: the client package, then the demo bundled on it (the tests
 * serve it from dist/public), each built only when older than its sources. `npm test` has just
 * built both; rebuilding the package's dist/ would also pull it from under the specs of other
 * projects that import it meanwhile.
 */
export default function setup(): void {
  const client = 'packages/client';
  if (builtAt(`${client}/dist/browser/messaging-client.js`) < newest(`${client}/src`, `${client}/package.json`, `${client}/tsconfig.json`, `${client}/scripts`)) {
    execFileSync('npm', ['run', '-s', 'build:client'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (builtAt('dist/public/demo.js') < newest('src/demo', `${client}/dist/browser/messaging-client.js`, 'scripts/build-demo.mjs')) {
    execFileSync(process.execPath, ['scripts/build-demo.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: apt-get update && apt-get install -y chromium (.ci/run does this)');
  }
}
