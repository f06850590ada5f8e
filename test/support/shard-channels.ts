import { Cluster } from 'ioredis';
import { shardedRoomChannel } from '../../src/websocket/redis-adapter.js';
import { userRoom } from '../../src/websocket/socket-types.js';
import { pollUntil } from './processes.js';

/** A user's room channel in the sharded adapter (one channel per room, default namespace). */
export const userRoomChannel = (userId: string): string => shardedRoomChannel('/', userRoom(userId));

/** A test's own client of the cluster whose node ports are given, once it has loaded the slots. */
export async function readyCluster(ports: number[]): Promise<Cluster> {
  const client = new Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  );
  await pollUntil("the test's Redis Cluster client ready", () => (client.status === 'ready' ? true : undefined));
  return client;
}

/**
 * Subscribers of a shard channel over every master (SHARDNUMSUB answers for its own node only).
 * ioredis closes a node's connection when a slots refresh (every 5 s) leaves that node out, as one
 * can while a new cluster settles; a call already on it then fails with "Connection is closed.",
 * and the count is taken again over the client's new list of masters.
 */
export async function shardSubscribers(cluster: Cluster, channel: string): Promise<number> {
  return pollUntil(`SHARDNUMSUB ${channel} over the masters`, async () => {
    try {
      let total = 0;
      for (const master of cluster.nodes('master')) total += Number(((await master.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);
      return total;
    } catch (error) {
      if (error instanceof Error && error.message === 'Connection is closed.') return undefined;
      throw error;
    }
  }, 5000);
}
