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
 * The whole service on the run's database, on free ports, with a real gRPC Connections server
 * whose answers the test controls. `env` overrides any variable of CONTRACT §1.
 */
export async function startTestApp(env: Record<string, string> = {}, options: { redis?: boolean } = {}): Promise<TestApp> {
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
    ...(options.redis ? { REDIS_URL } : {}),
    ...env,
  });
  const server = await startServer(config, createLogger(config.logLevel));
  return {
    server,
    graph,
    connections,
    token: (userId, tokenOptions) =>
      signUserToken(TEST_JWT_SECRET, userId, { ...tokenOptions, issuer: config.jwt.issuer, audience: config.jwt.audience }),
    close: async () => {
      await server.close();
      await connections.stop();
    },
  };
}
