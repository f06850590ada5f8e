// Builds the browser side: the demo web client (src/demo, on the SDK) and a standalone browser
// bundle of the SDK, with socket.io-client inside, into dist/public, which the DemoController
// serves (CONTRACT §6). Run by `npm run build` after `nest build`, and by the browser tests.
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PUBLIC_DIR = path.join(root, 'dist', 'public');

export async function buildDemo({ quiet = false } = {}) {
  const started = Date.now();
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
    build({ ...common, entryPoints: ['src/sdk/index.ts'], outfile: path.join(PUBLIC_DIR, 'messaging-sdk.js') }),
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
