// Builds the browser side into dist/public, which the DemoController serves (CONTRACT §6): the demo
// web client (src/demo), bundled as a user's app would be, from the built package
// `@platform/messaging-client` (packages/client/dist, resolved through node_modules), and a copy
// of the package's standalone browser bundle. Run by `npm run build` after the package and
// `nest build`, and by the browser tests (after `npm run build:client`).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PUBLIC_DIR = path.join(root, 'dist', 'public');
const CLIENT_DIST = path.join(root, 'packages', 'client', 'dist');

export async function buildDemo({ quiet = false } = {}) {
  const started = Date.now();
  if (!existsSync(path.join(CLIENT_DIST, 'index.js'))) throw new Error('the client package is not built: run `npm run build:client` first');
  await mkdir(PUBLIC_DIR, { recursive: true });
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: root,
  };
  await Promise.all([
    build({ ...common, entryPoints: ['src/demo/main.ts'], outfile: path.join(PUBLIC_DIR, 'demo.js') }),
    // Served under its historical name (/demo/messaging-sdk.js), its source map beside it.
    readFile(path.join(CLIENT_DIST, 'browser/messaging-client.js'), 'utf8').then((code) =>
      writeFile(path.join(PUBLIC_DIR, 'messaging-sdk.js'), code.replace(/sourceMappingURL=messaging-client\.js\.map\s*$/, 'sourceMappingURL=messaging-sdk.js.map\n')),
    ),
    copyFile(path.join(CLIENT_DIST, 'browser/messaging-client.js.map'), path.join(PUBLIC_DIR, 'messaging-sdk.js.map')),
    copyFile(path.join(root, 'src/demo/index.html'), path.join(PUBLIC_DIR, 'index.html')),
    copyFile(path.join(root, 'src/demo/demo.css'), path.join(PUBLIC_DIR, 'demo.css')),
  ]);
  if (!quiet) process.stdout.write(`demo client built into ${path.relative(root, PUBLIC_DIR)}/ in ${Date.now() - started} ms\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildDemo().catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  });
}
