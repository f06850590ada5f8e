import type { Logger } from 'pino';
import { inject } from 'vitest';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import { startServer, type RunningServer } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer, type RunningConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { createLogger } from '../../src/infrastructure/observability/logger.js';
import { REDIS_URL } from './services.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-000';

export interface TestApp {
  server: RunningServer;
  /** The Connections service the test controls: edges, delays, failures, call counts. */
  graph: ConnectionsGraph;
  connections: RunningConnectionsServer;
  token(userId: string, options?: { ttlSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

/**
 * What every in-process test service needs: a Connections server the test controls, the
 * configuration (test defaults on the run's database and free ports, then `env`) and a token
 * signer for that configuration.
 */
async function testParts(env: Record<string, string>) {
  const graph = new ConnectionsGraph();
  const connections = await startConnectionsServer(graph);
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    GRPC_PORT: '0',
    DATABASE_URL: inject('databaseUrl'),
    CONNECTIONS_GRPC_URL: connections.url,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const token = (userId: string, options?: { ttlSeconds?: number }) =>
    signUserToken(TEST_JWT_SECRET, userId, { ...options, issuer: config.jwt.issuer, audience: config.jwt.audience });
  return { graph, connections, config, token };
}

/**
 * The whole service on the run's database, on free ports, with a real gRPC Connections server
 * whose answers the test controls. `env` overrides any variable of CONTRACT §1.
 */
export async function startTestApp(env: Record<string, string> = {}, options: { redis?: boolean; logger?: Logger } = {}): Promise<TestApp> {
  const { graph, connections, config, token } = await testParts({ ...(options.redis ? { REDIS_URL } : {}), ...env });
  const server = await startServer(config, options.logger ?? createLogger(config.logLevel));
  return {
    server,
    graph,
    connections,
    token,
    close: async () => {
      await server.close();
      await connections.stop();
    },
  };
}

export interface TestCluster {
  /** The running instances, in start order; a stopped one stays in place (see `stop`). */
  instances: RunningServer[];
  /** Each instance's HTTP + Socket.IO base URL, by index. */
  urls: string[];
  /** The one Connections service every instance asks. */
  graph: ConnectionsGraph;
  connections: RunningConnectionsServer;
  /** The one Redis the instances share, or the seeds of their Redis Cluster (REDIS_CLUSTER_URLS). */
  redisUrl: string;
  token(userId: string, options?: { ttlSeconds?: number }): Promise<string>;
  /** Shuts one instance down: the SIGTERM sequence without the grace period (the others go on). */
  stop(index: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `count` instances of the whole service behind no load balancer, as production runs them: one
 * database, one Redis (the shared test Redis unless `redisUrl` is given) or a Redis Cluster
 * (`redisCluster`: its seeds, as REDIS_CLUSTER_URLS), one Connections service.
 * Tests put each socket on the instance they choose through `urls[i]`. Socket.IO adapter traffic
 * of concurrently running test files shares the Redis channels, which is harmless: every
 * broadcast goes to a `user:<id>` room and user ids are unique per test (factories.userId()).
 */
export async function startCluster(count: number, env: Record<string, string> = {}, options: { redisUrl?: string; redisCluster?: string } = {}): Promise<TestCluster> {
  const redisUrl = options.redisCluster ?? options.redisUrl ?? REDIS_URL;
  const shared: Record<string, string> = options.redisCluster ? { REDIS_CLUSTER_URLS: options.redisCluster } : { REDIS_URL: redisUrl };
  const { graph, connections, config, token } = await testParts({ ...shared, ...env });
  const instances: RunningServer[] = [];
  const stopped = new Set<number>();
  try {
    // One after the other: each runs the (idempotent) migration check against the shared database.
    for (let i = 0; i < count; i++) instances.push(await startServer(config, createLogger(config.logLevel)));
  } catch (error) {
    for (const instance of instances) await instance.close().catch(() => undefined);
    await connections.stop();
    throw error;
  }
  const stop = async (index: number) => {
    if (stopped.has(index)) return;
    stopped.add(index);
    await instances[index]!.close();
  };
  return {
    instances,
    urls: instances.map((instance) => instance.httpUrl),
    graph,
    connections,
    redisUrl,
    token,
    stop,
    close: async () => {
      await Promise.all(instances.map((_, index) => stop(index)));
      await connections.stop();
    },
  };
}
