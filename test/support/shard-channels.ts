import type { Cluster } from 'ioredis';
import { shardedRoomChannel } from '../../src/websocket/redis-adapter.js';
import { userRoom } from '../../src/websocket/socket-types.js';

/** A user's room channel in the sharded adapter (one channel per room, default namespace). */
export const userRoomChannel = (userId: string): string => shardedRoomChannel('/', userRoom(userId));

/** Subscribers of a shard channel over every master (SHARDNUMSUB answers for its own node only). */
export async function shardSubscribers(cluster: Cluster, channel: string): Promise<number> {
  let total = 0;
  for (const master of cluster.nodes('master')) total += Number(((await master.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]);
  return total;
}
