import { inject } from 'vitest';
import { ConnectionsGraph } from '../../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from '../../../src/infrastructure/embedded/connections-server.js';
import type { TestCleanup } from '../cleanup.js';
import { spawnService, type ReadyService } from '../service-process.js';
import { TEST_JWT_SECRET } from '../test-app.js';

/**
 * One production service process (a private build of the sources) on the run's database, with a
 * Connections service the test controls; both stopped by `cleanup`. `env` adds to or overrides the
 * production settings.
 */
export async function startSingleService(cleanup: TestCleanup, env: Record<string, string> = {}): Promise<{ graph: ConnectionsGraph; service: ReadyService }> {
  const graph = new ConnectionsGraph();
  const connections = await startConnectionsServer(graph);
  cleanup.add(() => connections.stop());
  const service = await spawnService({
    NODE_ENV: 'production',
    DATABASE_URL: inject('databaseUrl'),
    CONNECTIONS_GRPC_URL: connections.url,
    JWT_SECRET: TEST_JWT_SECRET,
    ...env,
  });
  cleanup.add(async () => {
    service.kill('SIGKILL');
    await service.exited;
  });
  return { graph, service };
}
