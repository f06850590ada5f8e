import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import type { Readiness } from '../../src/http/readiness.service.js';
import { messageText, userId } from '../support/factories.js';
import { pollUntil, startPrivateRedis, type PrivateRedis } from '../support/processes.js';
import { settle, TestClient } from '../support/socket-client.js';
import { startCluster, type TestCluster } from '../support/test-app.js';

/**
 * Redis is what makes rooms span instances. Losing it must cost nothing acknowledged (CONTRACT
 * §3.3): sends go on being stored and acknowledged, each instance still delivers to its own
 * sockets, readiness says Redis is down, and once Redis is back cross-instance delivery resumes by
 * itself while catch-up brings what other instances' sockets missed meanwhile. Each adapter runs
 * against a redis-server of its own that the test kills and starts again on the same port.
 */
const OUTAGE_MS = 3000;

describe.each(['redis', 'redis-streams'] as const)('a Redis outage under the %s adapter', (adapter) => {
  let redis: PrivateRedis | undefined;
  let cluster: TestCluster | undefined;
  let sql: pg.Pool;
  const clients: TestClient[] = [];
  const connect = async (user: string, instance: number) => {
    const client = await TestClient.connect(cluster!.urls[instance]!, await cluster!.token(user));
    clients.push(client);
    return client;
  };
  const readiness = async (instance: number): Promise<{ status: number; body: Readiness }> => {
    const response = await fetch(`${cluster!.urls[instance]}/health/ready`);
    return { status: response.status, body: (await response.json()) as Readiness };
  };

  beforeAll(async () => {
    sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
    redis = await startPrivateRedis();
    cluster = await startCluster(2, { SOCKET_ADAPTER: adapter }, { redisUrl: redis.url });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.close();
    await redis?.stop();
    await sql?.end();
  });

  it('acknowledges and stores through the outage, says Redis is down, then resumes delivery by itself and catches up what was missed', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    cluster!.graph.connect(alice, bob);
    const a0 = await connect(alice, 0);
    const b0 = await connect(bob, 0); // beside alice's socket
    let b1 = await connect(bob, 1); // across Redis from it
    const { conversationId } = (await a0.ok('startConversation', { participantId: bob })).conversation;
    const acknowledged: Message[] = [];
    const send = async (client: TestClient, label: string) => {
      const started = Date.now();
      const { message } = await client.ok('sendMessage', { conversationId, text: messageText(label) });
      acknowledged.push(message);
      return { message, ms: Date.now() - started };
    };

    // Before: both paths work.
    const { message: before } = await send(a0, 'before');
    for (const client of [b0, b1]) await client.waitFor('newMessage', (m) => m.messageId === before.messageId);
    await b1.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: before.messageId });

    // Redis dies, for a few seconds: long enough for the clients' reconnection back-off to reach its 1 s ceiling.
    await redis!.kill('SIGKILL');
    const killedAt = Date.now();
    for (const instance of [0, 1]) {
      const seen = await pollUntil(`instance ${instance} to report Redis down`, async () => {
        const answer = await readiness(instance);
        return answer.status === 503 ? answer : undefined;
      });
      expect(seen.body).toMatchObject({ ready: false, shuttingDown: false, checks: { database: 'up', redis: 'down' } });
    }

    // During: sends from both sides are acknowledged promptly and stored; delivery stays local.
    const fromAlice: Message[] = [];
    for (let index = 0; index < 5; index++) {
      const { message, ms } = await send(a0, 'during');
      expect(ms).toBeLessThan(1000);
      fromAlice.push(message);
    }
    const fromBob = [(await send(b1, 'during-reply')).message, (await send(b1, 'during-reply')).message];
    expect(await b0.waitFor('newMessage', (m) => m.text.startsWith('during #'), { count: fromAlice.length })).toEqual(fromAlice);
    await settle(300);
    expect(b1.events('newMessage').filter((m) => fromAlice.some((sent) => sent.messageId === m.messageId))).toEqual([]);
    expect(a0.events('newMessage').filter((m) => fromBob.some((sent) => sent.messageId === m.messageId))).toEqual([]);
    const duringStored = await sql.query<{ id: string }>('SELECT id FROM message WHERE conversation_id = $1 AND id = ANY($2::uuid[])', [
      conversationId,
      [...fromAlice, ...fromBob].map((m) => m.messageId),
    ]);
    expect(duringStored.rowCount).toBe(fromAlice.length + fromBob.length);

    // Redis comes back, empty, on the same port: readiness and cross-instance delivery recover by themselves.
    await settle(Math.max(0, OUTAGE_MS - (Date.now() - killedAt)));
    await redis!.start();
    const backAt = Date.now();
    for (const instance of [0, 1]) {
      await pollUntil(`instance ${instance} to be ready again`, async () => ((await readiness(instance)).status === 200 ? true : undefined), 10_000);
    }
    const readyAfterMs = Date.now() - backAt;
    const probes: Message[] = [];
    const resumed = await pollUntil(
      'cross-instance delivery to resume',
      async () => {
        probes.push((await send(a0, 'probe')).message);
        await settle(100);
        return b1.events('newMessage').find((m) => probes.some((probe) => probe.messageId === m.messageId));
      },
      10_000,
      100,
    );
    const resumedAfterMs = Date.now() - backAt;
    expect(resumed.text).toMatch(/^probe #/);

    // What bob's socket across Redis missed reaches him on reconnect, oldest first; the same for alice.
    b1.close();
    b1 = await connect(bob, 1);
    const missedByBob = [...fromAlice, ...probes].sort((x, y) => x.seq - y.seq);
    const caughtUp = await b1.waitFor('newMessage', undefined, { count: missedByBob.length });
    expect(caughtUp.map((m) => m.messageId)).toEqual(missedByBob.map((m) => m.messageId));
    a0.close();
    const a0again = await connect(alice, 0);
    const aliceCaughtUp = await a0again.waitFor('newMessage', undefined, { count: fromBob.length });
    expect(aliceCaughtUp.map((m) => m.messageId)).toEqual(fromBob.map((m) => m.messageId));

    // Nothing acknowledged was lost, nothing unacknowledged was stored.
    const stored = await sql.query<{ id: string }>('SELECT id FROM message WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
    expect(stored.rows.map((row) => row.id)).toEqual([...acknowledged].sort((x, y) => x.seq - y.seq).map((m) => m.messageId));

    console.info(
      `${adapter}: readiness 200 again ${readyAfterMs} ms after Redis accepted connections; ` +
        `cross-instance delivery resumed after ${resumedAfterMs} ms (${probes.length} probes) after a ${OUTAGE_MS} ms outage`,
    );
  });

  it('shuts an instance down promptly while Redis is down', async () => {
    const user = userId('leaving');
    const client = await connect(user, 0);
    await redis!.kill('SIGKILL');
    await pollUntil('instance 0 to report Redis down', async () => ((await readiness(0)).status === 503 ? true : undefined));
    const gone = client.disconnected(10_000);
    const started = Date.now();
    await cluster!.stop(0);
    const tookMs = Date.now() - started;
    expect(await gone).toBe('transport close');
    expect(tookMs).toBeLessThan(3000);
    console.info(`${adapter}: an instance closed in ${tookMs} ms with Redis down`);
    await redis!.start();
  });
});
