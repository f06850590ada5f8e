import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer, type RunningConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { freePort } from '../../src/infrastructure/net/free-port.js';
import { userId } from '../support/factories.js';
import { createScratchDatabase, REDIS_URL } from '../support/services.js';
import { removeBuild } from '../support/processes.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { TestClient } from '../support/socket-client.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';
import { signUserToken } from '../../src/auth/jwt-signer.js';

describe('the service as a process on real services', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    removeBuild();
  });

  it('migrates an empty database and serves, with DATABASE_URL, REDIS_URL and CONNECTIONS_GRPC_URL set', { timeout: 90_000 }, async () => {
    const database = await createScratchDatabase('messaging_empty');
    cleanups.push(database.drop);
    const [alice, bob] = [userId('alice'), userId('bob')];
    const connections: RunningConnectionsServer = await startConnectionsServer(new ConnectionsGraph([[alice, bob]]));
    cleanups.push(connections.stop);
    const port = await freePort();
    const service: ServiceProcess = startServiceProcess({
      NODE_ENV: 'production',
      DATABASE_URL: database.url,
      REDIS_URL,
      CONNECTIONS_GRPC_URL: connections.url,
      JWT_SECRET: TEST_JWT_SECRET,
      PORT: String(port),
      GRPC_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    cleanups.push(() => service.stop('SIGKILL'));
    await service.waitReady(`http://127.0.0.1:${port}`);

    const ready = (await (await fetch(`http://127.0.0.1:${port}/health/ready`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).toEqual({ database: 'up', redis: 'up' });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const migrations = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL');
    await client.end();
    expect(migrations.rowCount).toBeGreaterThan(0);

    const socket = await TestClient.connect(`http://127.0.0.1:${port}`, await signUserToken(TEST_JWT_SECRET, alice));
    const { conversation } = await socket.ok('startConversation', { participantId: bob });
    await socket.ok('sendMessage', { conversationId: conversation.conversationId, text: 'on real services' });
    socket.close();
    // Production serves no demo page.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await service.stop('SIGTERM')).code).toBe(0);
  });

  it('refuses production without DATABASE_URL, CONNECTIONS_GRPC_URL and a key, naming each (CONTRACT §1.2)', { timeout: 60_000 }, async () => {
    const port = await freePort();
    // The operator's mistake of issue 14: a key set, the database and Connections left out.
    for (const env of [{}, { JWT_SECRET: TEST_JWT_SECRET }] as Array<Record<string, string>>) {
      const started = Date.now();
      const service = startServiceProcess({ NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', ...env });
      const { code } = await service.exited;
      expect(code).toBe(1);
      expect(Date.now() - started).toBeLessThan(60_000);
      const output = service.output();
      expect(output).toContain('DATABASE_URL');
      expect(output).toContain('CONNECTIONS_GRPC_URL');
      expect(output.includes('JWT_SECRET or JWT_PUBLIC_KEY')).toBe(!('JWT_SECRET' in env));
      // Nothing embedded was started, and nothing that could serve as a credential was printed.
      expect(output).not.toMatch(/started|token=|Demo users/);
    }
  });

  it.each([
    [{ NODE_ENV: 'production' }, 'JWT_SECRET or JWT_PUBLIC_KEY'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
  ])('refuses to start on bad configuration %o, naming %s', { timeout: 30_000 }, async (env, variable) => {
    const service = startServiceProcess(env as Record<string, string>);
    const { code } = await service.exited;
    expect(code).toBe(1);
    expect(service.output()).toContain(variable);
  });
});
