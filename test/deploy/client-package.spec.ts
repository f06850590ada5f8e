import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userId } from '../support/factories.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE = path.join(ROOT, 'packages/client');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

interface Packed {
  filename: string;
  files: Array<{ path: string }>;
}

/**
 * The package as a user gets it (issue 16): `npm pack`, installed into an empty project outside
 * this workspace, a strict TypeScript program on its public API, run against the real service.
 */
describe('the client package (@platform/messaging-client) installed from its tarball', () => {
  let work: string;
  let app: TestApp;
  let packed: Packed;
  let project: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'messaging-client-pack-'));
    // The package as `npm run build` made it (npm test builds first). Without --ignore-scripts,
    // prepack would rebuild dist/ in place while services of other specs import it.
    expect(existsSync(path.join(PACKAGE, 'dist/index.js')), 'run `npm run -s build` first').toBe(true);
    const output = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: PACKAGE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    packed = (JSON.parse(output.slice(output.indexOf('['))) as Packed[])[0]!;
    project = path.join(work, 'app');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'a-users-app', private: true, type: 'module' }));
    // The registry's packages (socket.io-client, zod) come from npm's cache, filled by `npm ci`.
    execFileSync('npm', ['install', path.join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    app = await startTestApp();
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the build, declarations and docs only: no sources, specs or server code', () => {
    const files = packed.files.map((file) => file.path);
    for (const expected of ['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/contract/index.d.ts', 'dist/react/index.d.ts', 'dist/browser/messaging-client.js']) {
      expect(files).toContain(expected);
    }
    expect(files.filter((file) => file.startsWith('src/') || file.includes('.spec.'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(project, 'node_modules/@platform/messaging-client/package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys(manifest.dependencies!).sort()).toEqual(['socket.io-client', 'zod']);
    // Nothing of the server came along, nor React (an optional peer dependency).
    const installed = Object.keys((JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }).packages);
    expect(installed).toContain('node_modules/socket.io-client');
    expect(installed.filter((name) => /^node_modules\/(@nestjs|@prisma|prisma|pg|ioredis|react|react-dom)(\/|$)/.test(name))).toEqual([]);
  });

  it('type-checks a strict program on the public API, and exchanges messages with the service until read', { timeout: 120_000 }, async () => {
    copyFileSync(path.join(ROOT, 'test/deploy/client-package/program.ts'), path.join(project, 'program.ts'));
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false, types: [], outDir: 'out' },
        files: ['program.ts'],
      }),
    );
    const checked = (() => {
      try {
        execFileSync(process.execPath, [TSC, '-p', project], { cwd: project, encoding: 'utf8' });
        return '';
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? error);
      }
    })();
    expect(checked).toBe('');

    const [sender, recipient] = [userId('pack-alice'), userId('pack-bob')];
    app.graph.connect(sender, recipient);
    writeFileSync(
      path.join(project, 'run.mjs'),
      `import { exchange } from './out/program.js';\nconst [url, a, b, id] = process.argv.slice(2);\nprocess.stdout.write(JSON.stringify(await exchange(url, a, b, id)));\n`,
    );
    const output = await new Promise<string>((resolve, reject) => {
      void Promise.all([app.token(sender), app.token(recipient)]).then(([a, b]) => {
        import('node:child_process').then(({ execFile }) =>
          execFile(process.execPath, ['run.mjs', app.server.httpUrl, a, b, recipient], { cwd: project, timeout: 30_000 }, (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
          ),
        );
      }, reject);
    });
    const outcome = JSON.parse(output) as Record<string, unknown>;
    expect(outcome).toEqual({
      statuses: ['sending', 'sent', 'delivered', 'read'],
      received: 'Hi, from the installed package',
      receivedStatus: 'delivered',
      errorCode: 'INVALID_ARGUMENT',
      knownCodes: 7,
      schemaRefusesEmptyId: true,
    });
  });
});
