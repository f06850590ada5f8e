import { inject } from 'vitest';
import { signUserToken } from '../../../src/auth/jwt-signer.js';
import { ConnectionsGraph } from '../../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../../src/infrastructure/embedded/connections-server.js';
import { CarefulClient, startConversation, type CarefulClientOptions } from '../careful-client.js';
import type { TestCleanup } from '../cleanup.js';
import { userId } from '../factories.js';
import { startPrivateRedis } from '../processes.js';
import { TEST_JWT_SECRET } from '../test-app.js';

export interface Pair {
  conversationId: string;
  a: CarefulClient;
  b: CarefulClient;
}

/**
 * What instances of a multi-instance scenario share: a Redis of the test's own, a Connections
 * service the test controls, and the production settings for `spawnService` (`env` adds to or
 * overrides them). Stopped by `cleanup`.
 */
export async function startClusterParts(cleanup: TestCleanup, env: Record<string, string> = {}) {
  const redis = await startPrivateRedis();
  cleanup.add(() => redis.stop());
  const graph = new ConnectionsGraph();
  const connections = await startConnectionsServer(graph);
  cleanup.add(() => connections.stop());
  const serviceEnv: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: redis.url,
    CONNECTIONS_GRPC_URL: connections.url,
    CONNECTIONS_TIMEOUT_MS: '1500',
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_MESSAGES_PER_SECOND: '50',
    ...env,
  };
  return { redis, graph, connections, env: serviceEnv };
}

type SideOptions = Omit<CarefulClientOptions, 'userId' | 'token'>;

/**
 * Two new connected users with careful clients (added to `clients`), both connected, and the
 * conversation the first one started.
 */
export async function connectCarefulPair(
  graph: ConnectionsGraph,
  clients: CarefulClient[],
  sides: { a: SideOptions; b: SideOptions },
  token: (user: string) => Promise<string> = (user) => signUserToken(TEST_JWT_SECRET, user),
): Promise<Pair> {
  const [alice, bob] = [userId('alice'), userId('bob')];
  graph.connect(alice, bob);
  const a = new CarefulClient({ ...sides.a, userId: alice, token: await token(alice) });
  const b = new CarefulClient({ ...sides.b, userId: bob, token: await token(bob) });
  clients.push(a, b);
  await Promise.all([a.connected(), b.connected()]);
  return { conversationId: await startConversation(a.socket, bob), a, b };
}
