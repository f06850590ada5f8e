import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { freePort } from '../../src/infrastructure/net/free-port.js';
import { testCleanup } from '../support/cleanup.js';
import { pollUntil, spawnChild } from '../support/processes.js';
import { REDIS_URL } from '../support/services.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Copy {
  from?: string;
  sources: string[];
  destination: string;
}

/** The instructions of the Dockerfile's last stage (the runtime image). */
function runtimeStage(): { from: string; lines: string[]; copies: Copy[] } {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const start = lines.map((line, index) => (line.startsWith('FROM ') ? index : -1)).filter((index) => index >= 0).at(-1)!;
  const stage = lines.slice(start);
  const copies = stage
    .filter((line) => line.startsWith('COPY '))
    .map((line) => {
      const words = line.split(/\s+/).slice(1);
      const flags = words.filter((word) => word.startsWith('--'));
      const paths = words.filter((word) => !word.startsWith('--'));
      const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
    });
  return { from: stage[0]!, lines: stage, copies };
}

/**
 * What `npm ci --omit=dev` installs, as links to this checkout's packages: the top-level folder of
 * every production package (nested ones come inside their parent). Run with --preserve-symlinks,
 * a package resolves its own dependencies in this set too, so a runtime import of a development
 * dependency fails here as it would in the image.
 */
function productionNodeModules(target: string): void {
  const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  const topLevel = new Set<string>();
  for (const line of listed.split('\n')) {
    const relative = path.relative(path.join(ROOT, 'node_modules'), line.trim());
    if (line.trim() && path.relative(ROOT, line.trim()).startsWith(`packages${path.sep}`)) {
      // A workspace package: npm links it where the image has its files (packages/<name>).
      const name = (JSON.parse(readFileSync(path.join(line.trim(), 'package.json'), 'utf8')) as { name: string }).name;
      const link = path.join(target, name);
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(path.relative(path.dirname(link), path.join(target, '..', path.relative(ROOT, line.trim()))), link);
      continue;
    }
    if (!line.trim() || relative.startsWith('..') || relative === '') continue;
    const parts = relative.split(path.sep);
    topLevel.add(parts[0]!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
  }
  for (const name of topLevel) {
    const link = path.join(target, name);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', name), link);
  }
}

/** Lays out the runtime image's /app: exactly what the last stage copies, from where the earlier stages make it. */
function assembleImage(copies: Copy[]): string {
  const app = mkdtempSync(path.join(tmpdir(), 'messaging-image-'));
  for (const copy of copies) {
    const destination = path.join(app, copy.destination);
    if (copy.from === 'deps') {
      expect(copy.sources).toEqual(['/app/node_modules']);
      productionNodeModules(destination);
    } else if (copy.from === 'build') {
      // The build stage's `npm run build`: this checkout's dist/ and the client package's (npm test builds them first).
      expect(['/app/dist', '/app/packages/client/dist']).toContain(copy.sources[0]);
      expect(copy.sources).toHaveLength(1);
      const built = path.join(ROOT, copy.sources[0]!.slice('/app/'.length));
      expect(existsSync(built), 'run `npm run -s build` first').toBe(true);
      mkdirSync(path.dirname(destination.replace(/\/$/, '')), { recursive: true });
      execFileSync('cp', ['-r', built, destination.replace(/\/$/, '')]);
    } else {
      expect(copy.from).toBeUndefined();
      for (const source of copy.sources) {
        const target = copy.sources.length > 1 || copy.destination.endsWith('/') ? path.join(destination, path.basename(source)) : destination;
        mkdirSync(path.dirname(target), { recursive: true });
        execFileSync('cp', ['-r', path.join(ROOT, source), target]);
      }
    }
  }
  return app;
}

describe('the image (Dockerfile)', () => {
  const stage = runtimeStage();
  let app: string | undefined;
  afterAll(() => app && rmSync(app, { recursive: true, force: true }));

  it('builds on Node 24 slim in stages, runs as a non-root user, node dist/main.js, no HEALTHCHECK', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toBe('node:24-slim');
    expect(stage.lines).toContain('USER node');
    expect(stage.lines).toContain('ENV NODE_ENV=production');
    expect(stage.lines.at(-1)).toBe('CMD ["node", "dist/main.js"]');
    expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', '.data', '.ci', 'test']) expect(ignored).toContain(entry);
  });

  it('holds every file the service needs: started from exactly those files in production mode, it gets ready', { timeout: 90_000 }, async () => {
    const cleanup = testCleanup();
    app = assembleImage(stage.copies);
    const connections = await startConnectionsServer(new ConnectionsGraph());
    cleanup.add(connections.stop);
    const port = await freePort();
    const service = spawnChild(process.execPath, ['--preserve-symlinks', path.join(app, 'dist/main.js')], {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL,
      CONNECTIONS_GRPC_URL: connections.url,
      JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      GRPC_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    cleanup.add(async () => (service.kill('SIGKILL'), await service.exited));
    await pollUntil(
      'the service from the image files to be ready',
      async () => {
        if (service.process.exitCode !== null) throw new Error(`the service exited with ${service.process.exitCode}:\n${service.output()}`);
        const status = await fetch(`http://127.0.0.1:${port}/health/ready`).then((response) => response.status, () => 0);
        return status === 200 ? true : undefined;
      },
      60_000,
      200,
    );
    service.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
  });
});
