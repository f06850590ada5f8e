import type { Cluster } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import { clientMessageId, messageText, userId } from '../support/factories.js';
import { pollUntil } from '../support/processes.js';
import { readyCluster, shardSubscribers, userRoomChannel } from '../support/shard-channels.js';
import { settle, TestClient } from '../support/socket-client.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.mjs';
import { startCluster, type TestCluster } from '../support/test-app.js';

/**
 * Several instances of the service on one database, one Redis and one Connections service, each
 * socket placed on the instance the test chooses: what a user sees must not depend on where their
 * sockets, or the other participant's, happen to be connected (CONTRACT §3.3). Every part runs
 * twice: on one Redis (REDIS_URL) and on a Redis Cluster of 3 masters and 3 replicas started for
 * this file (REDIS_CLUSTER_URLS: sharded pub/sub, the cache in the cluster).
 */
type SharedRedis = 'one Redis' | 'a Redis Cluster';
const SHARED_REDIS: SharedRedis[] = ['one Redis', 'a Redis Cluster'];

let redisCluster: Promise<TestRedisCluster> | undefined;
/** The file's Redis Cluster, started by the first part that needs it. */
const fileRedisCluster = () => (redisCluster ??= startRedisCluster());
afterAll(async () => {
  await (await redisCluster?.catch(() => undefined))?.stop();
});

function useCluster(count: number, env: Record<string, string> = {}, redis: SharedRedis = 'one Redis') {
  let cluster: TestCluster | undefined;
  let admin: Cluster | undefined;
  const clients: TestClient[] = [];
  const placed: Array<{ client: TestClient; user: string; instance: number }> = [];
  beforeAll(async () => {
    if (redis === 'a Redis Cluster') {
      const redisCluster = await fileRedisCluster();
      cluster = await startCluster(count, env, { redisCluster: redisCluster.seeds });
      admin = await readyCluster(redisCluster.nodes.map((node) => node.port));
    } else {
      cluster = await startCluster(count, env, {});
    }
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    admin?.disconnect();
    await cluster?.close();
  });
  /**
   * On the cluster, an instance subscribes to a user's room channel when that user's first socket
   * joins it, and Socket.IO has told the client it is connected before the SSUBSCRIBE is answered:
   * until then a broadcast from another instance does not reach it (messages come back through
   * catch-up or seq gap fill; a typing event is gone). The tests wait for the subscriptions, as
   * they would wait for a connection.
   */
  const subscribed = async (user: string) => {
    if (!admin) return;
    const instances = new Set(placed.filter((entry) => entry.user === user && entry.client.socket.connected).map((entry) => entry.instance)).size;
    await pollUntil(`${instances} instance(s) subscribed to ${user}'s room`, async () => ((await shardSubscribers(admin!, userRoomChannel(user))) >= instances ? true : undefined), 5000);
  };
  const context = {
    get cluster(): TestCluster {
      if (!cluster) throw new Error('the cluster did not start');
      return cluster;
    },
    /** A socket of `user` on instance `instance`. */
    async connect(user: string, instance: number): Promise<TestClient> {
      const client = await TestClient.connect(context.cluster.urls[instance]!, await context.cluster.token(user));
      clients.push(client);
      placed.push({ client, user, instance });
      await subscribed(user);
      return client;
    },
    /** Two connected users and their conversation (started through instance 0 by a socket closed afterwards). */
    async pair() {
      const [alice, bob] = [userId('alice'), userId('bob')];
      context.cluster.graph.connect(alice, bob);
      const starter = await context.connect(alice, 0);
      const { conversation } = await starter.ok('startConversation', { participantId: bob });
      starter.close();
      return { alice, bob, conversationId: conversation.conversationId };
    },
  };
  return context;
}

let sql: pg.Pool;
beforeAll(() => {
  sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
});
afterAll(async () => {
  await sql?.end();
});

const ids = (messages: Message[]) => messages.map((message) => message.messageId);

/**
 * Each message once, at its first arrival. A socket may get a message twice, live and by catch-up
 * (CONTRACT §3.3: clients tell by messageId): its connection's catch-up query can run after a send
 * that followed the connection, or a broadcast can reach its instance after it joined. Both happen
 * on a loaded machine.
 */
function distinct(messages: Message[]): Message[] {
  const seen = new Set<string>();
  return messages.filter((message) => !seen.has(message.messageId) && seen.add(message.messageId));
}

/** Waits until `count` distinct messages have arrived on the socket; returns them in arrival order. */
async function distinctMessages(client: TestClient, count: number, timeoutMs = 5000): Promise<Message[]> {
  return pollUntil(`${count} distinct newMessage`, () => {
    const arrived = distinct(client.events('newMessage'));
    return arrived.length >= count ? arrived : undefined;
  }, timeoutMs, 20);
}

/** Sum of a counter over the instances' /metrics. */
async function counter(cluster: TestCluster, name: string): Promise<number> {
  let total = 0;
  for (const url of cluster.urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    total += Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  }
  return total;
}

const ADAPTERS = [
  { adapter: 'redis', redis: 'one Redis' },
  { adapter: 'redis-streams', redis: 'one Redis' },
  { adapter: 'sharded redis', redis: 'a Redis Cluster' },
] as const;

describe.each(ADAPTERS)('two instances on the $adapter adapter ($redis)', ({ adapter, redis }) => {
  const ctx = useCluster(2, adapter === 'sharded redis' ? {} : { SOCKET_ADAPTER: adapter }, redis);

  it("delivers newMessage to the recipient and the sender's other sockets on the other instance, never to the sending socket", async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const a1 = await ctx.connect(alice, 1);
    const b1 = await ctx.connect(bob, 1);
    const b0 = await ctx.connect(bob, 0);

    const { message } = await a0.ok('sendMessage', { conversationId, text: messageText() });
    for (const client of [a1, b1, b0]) expect((await client.waitFor('newMessage', (m) => m.messageId === message.messageId))[0]).toEqual(message);
    const { message: reply } = await b1.ok('sendMessage', { conversationId, text: messageText() });
    for (const client of [a0, a1, b0]) expect((await client.waitFor('newMessage', (m) => m.messageId === reply.messageId))[0]).toEqual(reply);
    await settle();
    expect(ids(distinct(a0.events('newMessage')))).toEqual([reply.messageId]);
    expect(ids(distinct(b1.events('newMessage')))).toEqual([message.messageId]);
    for (const client of [a1, b0]) expect(ids(distinct(client.events('newMessage')))).toEqual([message.messageId, reply.messageId]);
  });

  it('brings messageDelivered and messageRead to the sender on the other instance, and messageRead to the reader’s other sockets', async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const a1 = await ctx.connect(alice, 1);
    const b1 = await ctx.connect(bob, 1);
    const b0 = await ctx.connect(bob, 0);
    const { message: first } = await a0.ok('sendMessage', { conversationId, text: messageText() });
    const { message: second } = await a0.ok('sendMessage', { conversationId, text: messageText() });
    await distinctMessages(b1, 2);

    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: second.messageId });
    for (const client of [a0, a1]) {
      const [delivered] = await client.waitFor('messageDelivered');
      expect(delivered).toMatchObject({ conversationId, messageId: second.messageId });
      expect(Date.parse(delivered!.deliveredAt)).not.toBeNaN();
    }

    await b1.ok('markAsRead', { conversationId, lastReadMessageId: first.messageId });
    for (const client of [a0, a1, b0]) {
      expect(await client.waitFor('messageRead')).toEqual([expect.objectContaining({ conversationId, messageId: first.messageId, readerId: bob })]);
    }
    await settle();
    expect(b1.events('messageRead')).toEqual([]);
    for (const client of [b0, b1]) expect(client.events('messageDelivered')).toEqual([]);
  });

  it('catches a user up, on whichever instance they connect to, with what was sent while they were away', async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const sent: Message[] = [];
    for (let index = 0; index < 3; index++) sent.push((await a0.ok('sendMessage', { conversationId, text: messageText() })).message);

    const b1 = await ctx.connect(bob, 1);
    // A send's broadcast can reach Redis after bob's instance subscribed to his room (the service
    // publishes without waiting): that message then comes live as well as by catch-up, in either
    // order. Clients keep one copy by messageId and place messages by seq (CONTRACT §3.3), so the
    // contract is: exactly the three sent, in seq order once placed, every copy as it was sent.
    const arrived = await distinctMessages(b1, 3);
    expect([...arrived].sort((x, y) => x.seq - y.seq)).toEqual(sent);
    for (const copy of b1.events('newMessage')) expect(sent).toContainEqual(copy);
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent.at(-1)!.messageId });
    b1.close();
    const b0 = await ctx.connect(bob, 0);
    await settle();
    expect(b0.events('newMessage')).toEqual([]);
  });
});

describe('two instances on a Redis Cluster', () => {
  const ctx = useCluster(2, {}, 'a Redis Cluster');
  let redis: Cluster;
  beforeAll(async () => {
    const { nodes } = await fileRedisCluster();
    redis = await readyCluster(nodes.map((node) => node.port));
  });
  afterAll(() => redis?.disconnect());

  it("puts each user's room on a shard channel of its own, subscribed by the instances holding that user's sockets only, and the Connections cache in the cluster", async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob, 1);
    const a0 = await ctx.connect(alice, 0);
    const subscribers = (user: string, count: number) =>
      pollUntil(`${count} instance(s) subscribed to ${user}'s channel`, async () => ((await shardSubscribers(redis, userRoomChannel(user))) === count ? true : undefined), 5000);
    await subscribers(bob, 1);
    await subscribers(alice, 1);
    const a1 = await ctx.connect(alice, 1);
    await subscribers(alice, 2);

    const { message } = await a0.ok('sendMessage', { conversationId, text: messageText() });
    for (const client of [b1, a1]) await client.waitFor('newMessage', (m) => m.messageId === message.messageId);
    a1.close();
    await subscribers(alice, 1);
    // Another user's room saw no subscriber on the way: only the instances holding a user listen for it.
    expect(await shardSubscribers(redis, userRoomChannel(userId('nobody')))).toBe(0);

    // Readiness covers the cluster (CONTRACT §6).
    for (const url of ctx.cluster.urls) {
      const response = await fetch(`${url}/health/ready`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ ready: true, checks: { database: 'up', redis: 'up' } });
    }

    // The "connected" answer of the pair, shared by both instances, is a key of the cluster.
    const cached: string[] = [];
    for (const master of redis.nodes('master')) cached.push(...(await master.keys('messaging:connected:*')).filter((key) => key.includes(alice)));
    expect(cached).toHaveLength(1);
  });
});

describe.each(SHARED_REDIS)('three instances on %s', (redis) => {
  const TYPING_TIMEOUT_MS = 500;
  const ctx = useCluster(3, { TYPING_TIMEOUT_MS: String(TYPING_TIMEOUT_MS), RATE_LIMIT_MESSAGES_PER_SECOND: '1000' }, redis);

  it('shows typing and typingStopped (stop, send, timeout) to the other participant on another instance', async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const [r1, r2] = [await ctx.connect(bob, 1), await ctx.connect(bob, 2)];
    const outsider = await ctx.connect(userId('carol'), 1);
    const event = { conversationId, userId: alice };

    await a0.ok('startTyping', { conversationId });
    for (const client of [r1, r2]) expect(await client.waitFor('typing')).toEqual([event]);
    await a0.ok('stopTyping', { conversationId });
    for (const client of [r1, r2]) expect(await client.waitFor('typingStopped')).toEqual([event]);

    await a0.ok('startTyping', { conversationId });
    await r1.waitFor('typing', undefined, { count: 2 });
    await a0.ok('sendMessage', { conversationId, text: messageText() });
    for (const client of [r1, r2]) expect(await client.waitFor('typingStopped', undefined, { count: 2 })).toHaveLength(2);

    await a0.ok('startTyping', { conversationId });
    await r1.waitFor('typing', undefined, { count: 3 });
    const started = Date.now();
    await r1.waitFor('typingStopped', undefined, { count: 3, timeoutMs: TYPING_TIMEOUT_MS + 2000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TYPING_TIMEOUT_MS - 100);

    await settle();
    for (const client of [r1, r2]) {
      expect(client.received.filter((entry) => entry.event !== 'newMessage').map((entry) => entry.event)).toEqual([
        'typing',
        'typingStopped',
        'typing',
        'typingStopped',
        'typing',
        'typingStopped',
      ]);
    }
    expect(outsider.received).toEqual([]);
  });

  it("clears the indicator across instances when the typist's last socket goes, and stopTyping works from another instance", async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const b1 = await ctx.connect(bob, 1);
    const a0 = await ctx.connect(alice, 0);
    const a0bis = await ctx.connect(alice, 0);
    const event = { conversationId, userId: alice };

    await a0.ok('startTyping', { conversationId });
    await b1.waitFor('typing');
    // alice still has a socket on the instance that holds the indicator: it stays up.
    a0bis.close();
    await settle(300);
    expect(b1.events('typingStopped')).toEqual([]);
    a0.close();
    expect(await b1.waitFor('typingStopped')).toEqual([event]);

    // An indicator raised through one instance and lowered through another.
    const a2 = await ctx.connect(alice, 2);
    const a1 = await ctx.connect(alice, 1);
    await a2.ok('startTyping', { conversationId });
    await b1.waitFor('typing', undefined, { count: 2 });
    await a1.ok('stopTyping', { conversationId });
    await b1.waitFor('typingStopped', undefined, { count: 2 });
    await settle(TYPING_TIMEOUT_MS + 200);
    // The instance that saw startTyping still times its copy out: one more, redundant, typingStopped.
    expect(b1.events('typingStopped').length).toBeGreaterThanOrEqual(2);
    expect(b1.events('typingStopped').length).toBeLessThanOrEqual(3);
  });

  it("documents the per-instance meaning of \"the typist's last socket\": the indicator falls when the typist has no socket left on the instance that saw startTyping", async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const b2 = await ctx.connect(bob, 2);
    const a0 = await ctx.connect(alice, 0);
    await ctx.connect(alice, 1); // alice stays connected through instance 1 throughout
    await a0.ok('startTyping', { conversationId });
    await b2.waitFor('typing');
    a0.close();
    const [stopped] = await b2.waitFor('typingStopped', undefined, { timeoutMs: TYPING_TIMEOUT_MS / 2 });
    expect(stopped).toEqual({ conversationId, userId: alice });
  });

  it('stores one message for one clientMessageId sent through two instances at once, and both acks carry it', async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const a1 = await ctx.connect(alice, 1);
    const b2 = await ctx.connect(bob, 2);
    const rounds = 10;
    const storedBefore = await counter(ctx.cluster, 'messaging_messages_stored_total');
    for (let round = 0; round < rounds; round++) {
      const id = clientMessageId();
      const payload = { conversationId, text: messageText(), clientMessageId: id };
      const [first, second] = await Promise.all([a0.ok('sendMessage', payload), a1.ok('sendMessage', payload)]);
      expect(second.message).toEqual(first.message);
      expect(first.message.clientMessageId).toBe(id);
      const stored = await sql.query('SELECT id FROM message WHERE sender_id = $1 AND client_message_id = $2', [alice, id]);
      expect(stored.rows.map((row: { id: string }) => row.id)).toEqual([first.message.messageId]);
    }
    const received = await distinctMessages(b2, rounds);
    expect(received.map((message) => message.seq)).toEqual(Array.from({ length: rounds }, (_, index) => index + 1));
    await settle(300);
    expect(distinct(b2.events('newMessage'))).toHaveLength(rounds);
    // Stored, and so broadcast, once per round across both instances: the repeat broadcast nothing.
    expect((await counter(ctx.cluster, 'messaging_messages_stored_total')) - storedBefore).toBe(rounds);
  });

  it('orders concurrent sends from both sides through different instances by seq, with no gaps, the same for both', async () => {
    const { alice, bob, conversationId } = await ctx.pair();
    // Socket → the instance it is on: alice on 0 and 1, bob on 1 and 2.
    const sockets = [
      { client: await ctx.connect(alice, 0), instance: 0 },
      { client: await ctx.connect(alice, 1), instance: 1 },
      { client: await ctx.connect(bob, 1), instance: 1 },
      { client: await ctx.connect(bob, 2), instance: 2 },
    ];
    const perSocket = 15;
    const total = sockets.length * perSocket;
    const sentBy = new Map<string, { client: TestClient; instance: number }>();
    await Promise.all(
      sockets.map((socket) =>
        Promise.all(
          Array.from({ length: perSocket }, async () => {
            const { message } = await socket.client.ok('sendMessage', { conversationId, text: messageText() });
            sentBy.set(message.messageId, socket);
            return message;
          }),
        ),
      ),
    );
    const history = (await sockets[0]!.client.ok('getMessageHistory', { conversationId, pageSize: 100 })).messages.reverse();
    // One order, seq 1..N without a gap, acknowledged exactly as stored.
    expect(history.map((message) => message.seq)).toEqual(Array.from({ length: total }, (_, index) => index + 1));
    expect(new Set(ids(history))).toEqual(new Set(sentBy.keys()));

    for (const { client } of sockets) {
      const others = history.filter((message) => sentBy.get(message.messageId)!.client !== client);
      const live = await distinctMessages(client, others.length, 10_000);
      // Each message it did not send, and placed by seq it is exactly the stored order.
      expect(live).toHaveLength(others.length);
      expect(ids([...live].sort((x, y) => x.seq - y.seq))).toEqual(ids(others));
      // What went out through one instance arrives in seq order. Messages of different instances
      // committed within the same millisecond or so may arrive the other way round: clients place
      // messages by seq (docs/operations.md, "Ordering across instances").
      for (const instance of [0, 1, 2]) {
        const seqs = live.filter((message) => sentBy.get(message.messageId)!.instance === instance).map((message) => message.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
    }
    await settle();
    for (const { client } of sockets) expect(distinct(client.events('newMessage'))).toHaveLength(total - perSocket);
  });
});

describe.each(SHARED_REDIS)('per-instance limits on %s', (redis) => {
  const ctx = useCluster(2, { MAX_SOCKETS_PER_USER: '2', RATE_LIMIT_MESSAGES_PER_SECOND: '2' }, redis);

  it('caps sockets per user on each instance, not across them', async () => {
    const user = userId('many');
    await ctx.connect(user, 0);
    await ctx.connect(user, 0);
    await expect(ctx.connect(user, 0)).rejects.toThrow('RESOURCE_EXHAUSTED');
    await ctx.connect(user, 1);
    await ctx.connect(user, 1);
    await expect(ctx.connect(user, 1)).rejects.toThrow('RESOURCE_EXHAUSTED');
  });

  it('limits the send rate per user on each instance, not across them', async () => {
    const { alice, conversationId } = await ctx.pair();
    const a0 = await ctx.connect(alice, 0);
    const a1 = await ctx.connect(alice, 1);
    const outcomes = async (client: TestClient) => {
      const results = await Promise.all(Array.from({ length: 6 }, () => client.emit('sendMessage', { conversationId, text: messageText() })));
      return results.map((result) => (result.ok ? 'ok' : result.error.code));
    };
    // Burst of twice the rate (4), then RESOURCE_EXHAUSTED, on each instance separately.
    const [on0, on1] = await Promise.all([outcomes(a0), outcomes(a1)]);
    for (const outcome of [on0, on1]) {
      expect(outcome.filter((code) => code === 'ok')).toHaveLength(4);
      expect(outcome.filter((code) => code === 'RESOURCE_EXHAUSTED')).toHaveLength(2);
    }
    const stored = await sql.query<{ count: string }>('SELECT count(*) FROM message WHERE conversation_id = $1', [conversationId]);
    expect(Number(stored.rows[0]!.count)).toBe(8);
  });
});
