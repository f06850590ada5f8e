import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signUserToken } from '../../src/auth/jwt-signer.js';
import type { Conversation, Message } from '@platform/messaging-client/contract';
import type { AckResult, ClientToServerEvents, ServerToClientEvents } from '@platform/messaging-client/contract';
import { ConnectionsGraph } from '../../src/infrastructure/embedded/connections-graph.js';
import { startConnectionsServer, type RunningConnectionsServer } from '../../src/infrastructure/embedded/connections-server.js';
import { clientMessageId, messageText, userId } from '../support/factories.js';
import { sleep } from '../support/figures.js';
import { buildService, pollUntil, removeBuild } from '../support/processes.js';
import { spawnService, type ReadyService } from '../support/service-process.js';
import { REDIS_URL } from '../support/services.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type SendResult = AckResult<{ message: Message }>;

/**
 * CONTRACT §7 on the real thing: `node dist/main.js` twice (A and B) on one database and one
 * Redis, SIGTERM to A while a client sends through it.
 */
describe('shutdown of a real process on SIGTERM', () => {
  const [alice, bob] = [userId('alice'), userId('bob')];
  let connections: RunningConnectionsServer | undefined;
  let a: ReadyService | undefined;
  let b: ReadyService | undefined;
  let sql: pg.Pool;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    buildService();
    sql = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
    connections = await startConnectionsServer(new ConnectionsGraph([[alice, bob]]));
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL,
      CONNECTIONS_GRPC_URL: connections.url,
      JWT_SECRET: TEST_JWT_SECRET,
      RATE_LIMIT_MESSAGES_PER_SECOND: '1000',
    };
    [a, b] = await Promise.all([spawnService(env), spawnService(env)]);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const service of [a, b]) service?.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    removeBuild();
    await connections?.stop();
    await sql?.end();
  });

  it('turns readiness 503 at once, stores every acknowledged message, exits 0 within 10 s; the client moves to B and catches up', async () => {
    const [first, second] = [a!, b!];
    // alice: on A, reconnecting by itself, to B once A has gone (as a load balancer would send her).
    const [aliceToken, bobToken] = [await signUserToken(TEST_JWT_SECRET, alice), await signUserToken(TEST_JWT_SECRET, bob)];
    const aliceSocket: ClientSocket = io(first.httpUrl, {
      auth: { token: aliceToken },
      transports: ['websocket'],
      reconnectionDelay: 300,
      reconnectionDelayMax: 300,
      randomizationFactor: 0,
    });
    const bobSocket: ClientSocket = io(second.httpUrl, { auth: { token: bobToken }, transports: ['websocket'] });
    sockets.push(aliceSocket, bobSocket);
    const timeline: Array<{ at: number; what: 'connect' | 'disconnect' | 'newMessage'; message?: Message; url?: string }> = [];
    aliceSocket.on('connect', () => timeline.push({ at: Date.now(), what: 'connect', url: managerOf(aliceSocket).uri }));
    aliceSocket.on('newMessage', (message) => timeline.push({ at: Date.now(), what: 'newMessage', message }));
    await Promise.all([connected(aliceSocket), connected(bobSocket)]);

    const started = await ack<{ conversation: Conversation }>(aliceSocket.timeout(5000).emitWithAck('startConversation', { participantId: bob }));
    const conversationId = started.conversation.conversationId;

    // While A goes away, bob writes to alice: she must get it on B, through catch-up.
    const gapMessages: Message[] = [];
    let gapSends: Promise<void> = Promise.resolve();
    aliceSocket.on('disconnect', () => {
      timeline.push({ at: Date.now(), what: 'disconnect' });
      managerOf(aliceSocket).uri = second.httpUrl;
      gapSends = (async () => {
        for (let index = 0; index < 3; index++) {
          gapMessages.push((await ack<{ message: Message }>(bobSocket.timeout(5000).emitWithAck('sendMessage', { conversationId, text: messageText('gap') }))).message);
        }
      })();
      gapSends.catch(() => undefined); // awaited below; this only keeps an early failure from being reported twice
    });

    // alice sends every 10 ms; a send that fails (UNAVAILABLE while A drains, or no answer from a
    // closed connection) is retried with the same clientMessageId, as the SDK does.
    const acked = new Map<string, { message: Message; at: number }>();
    const attempts: Array<Promise<void>> = [];
    let sending = true;
    const sendUntilAcknowledged = async (id: string, text: string) => {
      for (;;) {
        const result: SendResult | undefined = await aliceSocket
          .timeout(3000)
          .emitWithAck('sendMessage', { conversationId, text, clientMessageId: id })
          .catch(() => undefined);
        if (result?.ok) {
          acked.set(id, { message: result.data.message, at: Date.now() });
          return;
        }
        await sleep(50);
      }
    };
    const sender = (async () => {
      while (sending) {
        attempts.push(sendUntilAcknowledged(clientMessageId(), messageText('loop')));
        await sleep(10);
      }
    })();

    await sleep(400);
    const before = await ack<{ message: Message }>(bobSocket.timeout(5000).emitWithAck('sendMessage', { conversationId, text: messageText('live') }));

    // SIGTERM, then readiness at once and until the port closes.
    const signalledAt = Date.now();
    first.kill('SIGTERM');
    const readiness: Array<{ at: number; status: number | 'refused' }> = [];
    for (;;) {
      const status = await fetch(`${first.httpUrl}/health/ready`).then(
        (response) => response.status,
        () => 'refused' as const,
      );
      readiness.push({ at: Date.now() - signalledAt, status });
      if (status === 'refused') break;
      await sleep(20);
    }
    const exit = await Promise.race([first.exited, sleep(10_000).then(() => 'still running' as const)]);
    const exitedAfterMs = Date.now() - signalledAt;

    await pollUntil('alice to be connected to B', () => (aliceSocket.connected && managerOf(aliceSocket).uri === second.httpUrl ? true : undefined), 10_000);
    await sleep(300); // a few more sends through B
    sending = false;
    await sender;
    await Promise.all(attempts);
    await gapSends;

    // Readiness: 503 from the first answer after the signal (allowing one that raced the signal), never
    // 200 again, answered through the shutdown grace (SHUTDOWN_GRACE_MS, 500 ms by default), then the port closes.
    const answers = readiness.filter((entry) => entry.status !== 'refused');
    const firstUnready = answers.findIndex((entry) => entry.status === 503);
    expect(firstUnready, JSON.stringify(readiness)).toBeGreaterThanOrEqual(0);
    expect(firstUnready).toBeLessThanOrEqual(1);
    expect(answers.slice(firstUnready).every((entry) => entry.status === 503)).toBe(true);
    expect(readiness.at(-1)!.status).toBe('refused');

    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    expect(exitedAfterMs).toBeLessThan(10_000);

    // Every acknowledged message is stored, once; nothing unacknowledged was stored.
    const stored = await sql.query<{ id: string; client_message_id: string }>(
      'SELECT id, client_message_id FROM message WHERE conversation_id = $1 AND sender_id = $2',
      [conversationId, alice],
    );
    expect(stored.rows.length).toBe(acked.size);
    expect(new Map(stored.rows.map((row) => [row.client_message_id, row.id]))).toEqual(
      new Map([...acked].map(([id, { message }]) => [id, message.messageId])),
    );
    // A acknowledged sends after the signal: received work is finished, not dropped.
    const ackedByAAfterSignal = [...acked.values()].filter(({ at }) => at > signalledAt && at < signalledAt + exitedAfterMs);
    expect(ackedByAAfterSignal.length).toBeGreaterThan(0);

    // alice got bob's message sent before the signal, and the ones sent while she was away, on B.
    const reconnectedAt = timeline.filter((entry) => entry.what === 'connect').at(-1)!.at;
    const received = timeline.filter((entry) => entry.what === 'newMessage').map((entry) => ({ at: entry.at, id: entry.message!.messageId }));
    expect(received.map((entry) => entry.id)).toContain(before.message.messageId);
    expect(gapMessages).toHaveLength(3);
    for (const message of gapMessages) {
      const arrival = received.find((entry) => entry.id === message.messageId);
      expect(arrival, `gap message ${message.seq}`).toBeDefined();
      expect(arrival!.at).toBeGreaterThanOrEqual(reconnectedAt);
    }
    expect(timeline.filter((entry) => entry.what === 'connect')).toHaveLength(2);

    console.info(
      `shutdown: ${acked.size} messages acknowledged (${ackedByAAfterSignal.length} by A after SIGTERM); readiness ${JSON.stringify(readiness.slice(0, 3))}… ` +
        `${readiness.length} polls, port closed after ${readiness.at(-1)!.at} ms; exit 0 after ${exitedAfterMs} ms; ` +
        `alice back on B ${reconnectedAt - signalledAt} ms after the signal`,
    );

    // B goes the same way.
    second.kill('SIGTERM');
    expect(await Promise.race([second.exited, sleep(10_000).then(() => 'still running' as const)])).toEqual({ code: 0, signal: null });
  });
});

/**
 * The Manager's target: socket.io-client reconnects to `uri` and re-reads it on every attempt, so
 * setting it on disconnect moves the client to another instance (what a load balancer does).
 */
function managerOf(socket: ClientSocket): { uri: string } {
  return socket.io as unknown as { uri: string };
}

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

async function ack<T>(pending: Promise<unknown>): Promise<T> {
  const result = (await pending) as AckResult<T>;
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.data;
}
