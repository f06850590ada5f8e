import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { freePort } from '../../src/infrastructure/net/free-port.js';
import { testCleanup } from '../support/cleanup.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { pollUntil, removeBuild, startPrivateRedis } from '../support/processes.js';
import { startServiceProcess } from '../support/service-process.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The built service in production mode on free ports, on the run's database unless `env` says otherwise. */
async function startProduction(env: Record<string, string>) {
  const port = await freePort();
  const service = startServiceProcess({
    NODE_ENV: 'production',
    DATABASE_URL: inject('databaseUrl'),
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: String(port),
    GRPC_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
    ...env,
  });
  return { service, httpUrl: `http://127.0.0.1:${port}` };
}

describe('dependency errors are never silent', () => {
  afterAll(() => removeBuild());

  it('logs a Redis that refuses the password once per connection, with the cause, not once per retry', { timeout: 60_000 }, async () => {
    const cleanup = testCleanup();
    const redis = await startPrivateRedis({ password: 'the-right-one' });
    cleanup.add(redis.stop);
    const connections = await startConnectionsServer(new ConnectionsGraph());
    cleanup.add(connections.stop);
    const { service, httpUrl } = await startProduction({ CONNECTIONS_GRPC_URL: connections.url, REDIS_URL: `redis://:a-wrong-one@127.0.0.1:${redis.port}`, LOG_LEVEL: 'warn' });
    cleanup.add(async () => (service.kill('SIGKILL'), await service.exited));

    const refused = () => logLines(service.output()).filter((line) => String(line.msg).includes('WRONGPASS'));
    await pollUntil('the refused password in the log', () => (refused().length > 0 ? true : undefined), 20_000, 100);
    // ioredis retries every connection several times a second; the state does not change, so no more
    // lines. Redis counts the connections it was offered: three more per client have been refused.
    const admin = new Redis(redis.url, { password: 'the-right-one', lazyConnect: true, maxRetriesPerRequest: 0 });
    cleanup.add(() => admin.disconnect());
    await admin.connect();
    const offered = async () => Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))![1]);
    const offeredAtFirstLine = await offered();
    await pollUntil('three more refused connections per client', async () => ((await offered()) >= offeredAtFirstLine + 9 ? true : undefined), 20_000, 100);
    const lines = refused();
    expect(lines.map((line) => line.dependency).sort()).toEqual(['redis (messaging-cache)', 'redis (messaging-io-pub)', 'redis (messaging-io-sub)']);
    for (const line of lines) {
      expect(line.level).toBe(50);
      expect(line.msg).toMatch(/^redis \(messaging-[a-z-]+\) is failing: WRONGPASS/);
      // The password is nowhere in what was logged.
      expect(JSON.stringify(line)).not.toContain('a-wrong-one');
    }
    // The instance still starts (a Redis away is not fatal), and readiness says why it is not ready.
    const ready = await pollUntil('the HTTP port', () =>
      fetch(`${httpUrl}/health/ready`).then((response) => response.json() as Promise<{ checks: Record<string, string> }>, () => undefined),
    10_000, 100);
    expect(ready.checks.redis).toBe('down');
    expect(refused()).toHaveLength(3);
  });

  it('logs the Connections service failing once, however many checks fail, and its recovery', { timeout: 60_000 }, async () => {
    const cleanup = testCleanup();
    const connectionsPort = await freePort();
    const { service, httpUrl } = await startProduction({ CONNECTIONS_GRPC_URL: `127.0.0.1:${connectionsPort}` });
    cleanup.add(async () => (service.kill('SIGKILL'), await service.exited));
    await service.waitReady(httpUrl);
    const [alice, bob] = [userId('alice'), userId('bob')];
    const client = await TestClient.connect(httpUrl, await signUserToken(TEST_JWT_SECRET, alice));
    cleanup.add(() => client.close());
    // Fewer than the breaker's volume threshold and more: every one fails, one line in all.
    for (let attempt = 0; attempt < 5; attempt++) await client.emit('startConversation', { participantId: bob });
    const lines = (pattern: RegExp) => logLines(service.output()).filter((line) => pattern.test(String(line.msg)));
    expect(lines(/^connections is failing: /)).toHaveLength(1);
    expect(lines(/^connections is failing: /)[0]!.msg).toMatch(/UNAVAILABLE|ECONNREFUSED|No connection established/);

    const graph = new ConnectionsGraph([[alice, bob]]);
    const connections = await startConnectionsServer(graph, { host: '127.0.0.1', port: connectionsPort });
    cleanup.add(connections.stop);
    await pollUntil('a check that succeeds', async () => (await client.emit('startConversation', { participantId: bob })).ok || undefined, 20_000, 500);
    expect(lines(/^connections is available again$/)).toHaveLength(1);
    expect(lines(/^connections is failing: /)).toHaveLength(1);
  });

  it('logs PostgreSQL going away once per cause (the pool and the readiness probe share one state), and its return once', { timeout: 60_000 }, async () => {
    const cleanup = testCleanup();
    const database = new URL(inject('databaseUrl'));
    const proxy = await startFaultProxy({ host: database.hostname, port: Number(database.port || 5432) });
    cleanup.add(() => proxy.close());
    database.host = proxy.address;
    const connections = await startConnectionsServer(new ConnectionsGraph());
    cleanup.add(connections.stop);
    const { service, httpUrl } = await startProduction({ DATABASE_URL: database.toString(), CONNECTIONS_GRPC_URL: connections.url });
    cleanup.add(async () => (service.kill('SIGKILL'), await service.exited));
    await service.waitReady(httpUrl);
    const lines = (pattern: RegExp) => logLines(service.output()).filter((line) => line.dependency === 'postgresql' && pattern.test(String(line.msg)));

    await proxy.down();
    await pollUntil('the failure in the log', () => (lines(/is failing/).length > 0 ? true : undefined), 15_000, 100);
    // The probe keeps failing every second (and the pool's connections break): still one line.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // The pool's open connections break (ECONNRESET), then new ones are refused: each cause once.
    const failing = lines(/is failing/).map((line) => String(line.msg));
    expect(new Set(failing).size).toBe(failing.length);
    expect(failing.length).toBeLessThanOrEqual(3);
    await proxy.up();
    await pollUntil('the recovery in the log', () => (lines(/is available again/).length > 0 ? true : undefined), 15_000, 100);
    expect(lines(/is failing/)).toHaveLength(failing.length);
    expect(lines(/is available again/)).toHaveLength(1);
  });
});
