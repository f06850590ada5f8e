import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdapterCluster, AdapterRedis, closeRedis, redisAdapter, redisClusterAdapter, shardedRoomChannel, type RoomSubscriptions } from '../../src/websocket/redis-adapter.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { pollUntil, startPrivateRedis, type PrivateRedis } from '../support/processes.js';
import { shardSubscribers } from '../support/shard-channels.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.mjs';

/**
 * The two places where the adapter's fault handling leans on upstream behaviour; each test fails if
 * that behaviour changes: ioredis sends every command through `sendCommand`, and the Redis adapters
 * publish nothing for a broadcast whose `opts.flags.local` is set.
 */
describe('the Socket.IO Redis adapter on a Redis that stops answering', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('counts every command of an AdapterRedis until Redis answers it', async () => {
    const client = new AdapterRedis(redis.url, { maxRetriesPerRequest: null });
    try {
      await client.ping();
      const before = client.unansweredCommands;
      const replies = [client.publish('channel', 'x'), client.set('key', 'value'), client.get('key')];
      expect(client.unansweredCommands - before).toBe(3);
      await Promise.all(replies);
      await pollUntil('every command answered', () => (client.unansweredCommands === 0 ? true : undefined));
      expect(client.answering).toBe(true);
    } finally {
      await closeRedis(client);
    }
  });

  it("redis-streams: closing the adapter while its subscriber's SUBSCRIBE is unanswered leaves no unhandled rejection", async () => {
    // As when an instance shuts down just as Redis came back, between the SUBSCRIBE that ioredis
    // sends again on reconnection and its answer: the adapter disconnects its subscriber, whose
    // pending command fails with "Connection is closed." (an unhandled one ends a Node process).
    const proxy = await startFaultProxy({ port: redis.port });
    proxy.blackhole();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const clients: AdapterRedis[] = [];
    const copies: AdapterRedis[] = [];
    const server = new Server(createServer());
    try {
      server.adapter(
        redisAdapter(`redis://${proxy.address}`, 'redis-streams', (client) => {
          client.onDuplicate = (copy) => copies.push(copy);
          clients.push(client);
        }),
      );
      // Its publishing connection, its subscriber and its stream reader, each with its commands queued.
      await pollUntil('the three connections accepted', () => (proxy.accepted === 3 ? true : undefined));
      await server.close();
      await pollUntil('the subscriber disconnected', () => (proxy.openConnections === 2 ? true : undefined));
      // Unhandled rejections are reported once the microtasks of the turn that rejected have run.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      for (const client of [...clients, ...copies]) client.disconnect();
      await proxy.close();
    }
  });

  it.each(['redis', 'redis-streams'] as const)('%s: delivers locally and publishes nothing while Redis is frozen, and across instances again once it answers', async (kind) => {
    const clients: AdapterRedis[] = [];
    const servers: Server[] = [];
    const sockets: ClientSocket[] = [];
    const start = async () => {
      const http = createServer();
      const server = new Server(http, { transports: ['websocket'] });
      server.adapter(redisAdapter(redis.url, kind, (client) => clients.push(client)));
      servers.push(server);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const socket = io(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'] });
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      return { server, socket };
    };
    try {
      const [one, two] = [await start(), await start()];
      await pollUntil('adapter connections ready', async () => (clients.every((client) => client.status === 'ready') ? true : undefined));
      const publisher = clients[0]!;
      const heard = (socket: ClientSocket) => new Promise<string>((resolve) => socket.once('news', resolve));

      // Answering: a broadcast on one instance reaches the other's socket.
      await pollUntil('cross-instance delivery', async () => {
        const arrived = Promise.race([heard(two.socket), new Promise((resolve) => setTimeout(() => resolve(undefined), 200))]);
        one.server.emit('news', 'across');
        return (await arrived) === 'across' ? true : undefined;
      });

      redis.signal('SIGSTOP');
      // A command that gets no answer marks the publisher as not answering after PUBLISH_STALL_MS.
      void publisher.ping().catch(() => undefined);
      await pollUntil('publisher seen as not answering', async () => (publisher.answering ? undefined : true), 5000);
      const before = publisher.unansweredCommands;
      const local = heard(one.socket);
      one.server.emit('news', 'local');
      expect(await local).toBe('local');
      // Local-only: nothing more was sent to the frozen Redis.
      expect(publisher.unansweredCommands).toBe(before);
    } finally {
      redis.signal('SIGCONT');
      for (const socket of sockets) socket.close();
      for (const server of servers) server.close();
      await Promise.all(clients.map(closeRedis));
    }
  });
});

/**
 * The same on a Redis Cluster (sharded adapter): the cluster client stays ready while one master is
 * frozen, so it is the stall of the commands routed to that master that turns broadcasts local.
 */
describe('the sharded adapter on a Redis Cluster whose master stops answering', () => {
  let cluster: TestRedisCluster;
  beforeAll(async () => {
    // A long node timeout: the frozen master must not be failed over during the test.
    cluster = await startRedisCluster({ nodeTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("resolves whenSubscribed once the room's shard channel (the adapter's own name for it) is subscribed", async () => {
    const clients: AdapterCluster[] = [];
    const server = new Server({ transports: ['websocket'] });
    const nodes = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
    server.adapter(redisClusterAdapter(nodes, {}, (client) => clients.push(client)));
    try {
      const adapter = server.of('/').adapter as unknown as RoomSubscriptions & { addAll(id: string, rooms: Set<string>): void };
      const channel = shardedRoomChannel('/', 'user:someone');
      const subscribers = () => shardSubscribers(clients[0]!, channel);
      await pollUntil('adapter connections ready', async () => (clients.every((client) => client.status === 'ready') ? true : undefined));
      expect(await subscribers()).toBe(0);
      // Joining creates the room: the adapter sends its SSUBSCRIBE without waiting for the answer.
      adapter.addAll('a-socket-id', new Set(['user:someone']));
      await adapter.whenSubscribed('user:someone');
      expect(await subscribers()).toBe(1);
    } finally {
      // No HTTP server to close: the adapter's connections are all there is.
      await Promise.all(clients.map(closeRedis));
    }
  });

  it('delivers locally and publishes nothing while the master of the channel is frozen, and across instances again once it answers', async () => {
    const clients: AdapterCluster[] = [];
    const servers: Server[] = [];
    const sockets: ClientSocket[] = [];
    const nodes = cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
    const start = async () => {
      const http = createServer();
      const server = new Server(http, { transports: ['websocket'] });
      server.adapter(redisClusterAdapter(nodes, {}, (client) => clients.push(client)));
      server.on('connection', (socket) => void socket.join('room'));
      servers.push(server);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const socket = io(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'] });
      sockets.push(socket);
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      return { server, socket };
    };
    // The room's own shard channel (subscriptionMode "dynamic"), and the master that serves it.
    const master = await cluster.masterOf(shardedRoomChannel('/', 'room'));
    try {
      const [one, two] = [await start(), await start()];
      await pollUntil('adapter connections ready', async () => (clients.every((client) => client.status === 'ready') ? true : undefined));
      const publisher = clients[0]!;
      const heard = (socket: ClientSocket) => new Promise<string>((resolve) => socket.once('news', resolve));
      const across = () =>
        pollUntil('cross-instance delivery', async () => {
          const arrived = Promise.race([heard(two.socket), new Promise((resolve) => setTimeout(() => resolve(undefined), 200))]);
          one.server.to('room').emit('news', 'across');
          return (await arrived) === 'across' ? true : undefined;
        }, 10_000);
      await across();

      cluster.signal(master, 'SIGSTOP');
      // A command routed to the frozen master (a key of the channel's slot) stalls the publisher.
      void publisher.get(shardedRoomChannel('/', 'room')).catch(() => undefined);
      await pollUntil('publisher seen as not answering', async () => (publisher.answering ? undefined : true), 5000);
      expect(publisher.status).toBe('ready');
      const before = publisher.unansweredCommands;
      const local = heard(one.socket);
      one.server.to('room').emit('news', 'local');
      expect(await local).toBe('local');
      expect(publisher.unansweredCommands).toBe(before);

      cluster.signal(master, 'SIGCONT');
      await pollUntil('publisher answering again', async () => (publisher.answering ? true : undefined), 10_000);
      await across();
    } finally {
      cluster.signal(master, 'SIGCONT');
      for (const socket of sockets) socket.close();
      for (const server of servers) server.close();
      await Promise.all(clients.map(closeRedis));
    }
  });
});

