import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsRequest } from '../../src/generated/proto/messaging/v1/ListConversationsRequest.js';
import type { ListConversationsResponse__Output } from '../../src/generated/proto/messaging/v1/ListConversationsResponse.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { loggerOptions } from '../../src/infrastructure/observability/logger.js';
import { REPLICA_DEPENDENCY } from '../../src/infrastructure/prisma/read-sql.js';
import type { Message } from '@platform/messaging-client/contract';
import { userId } from '../support/factories.js';
import { bearer, call, messagingClient } from '../support/grpc-client.js';
import { pollUntil } from '../support/processes.js';
import { sample, scrape } from '../support/prometheus.js';
import { startReplicatedPostgres, type ReplicatedPostgres } from '../support/replicated-postgres.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * CONTRACT §4.2 on a real streaming replica (test/support/replicated-postgres.ts): history and lists
 * come from the replica when it has replayed every acknowledged write, from the primary within the
 * same request when it has not (replay paused) or is down, and never miss an acknowledged message or
 * receipt. Which database answered is read from messaging_reads_total.
 */
describe('reads from a streaming replica (DATABASE_READ_URL)', () => {
  let postgres: ReplicatedPostgres;
  let app: TestApp;
  let grpc: MessagingServiceClient;
  const logLines: Array<Record<string, unknown>> = [];
  const sockets: TestClient[] = [];

  beforeAll(async () => {
    postgres = await startReplicatedPostgres();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    app = await startTestApp(
      { DATABASE_URL: postgres.primaryUrl, DATABASE_READ_URL: postgres.replicaUrl, RATE_LIMIT_READS_PER_SECOND: '100000', RATE_LIMIT_MESSAGES_PER_SECOND: '100000' },
      { logger: pino(loggerOptions('info'), sink) },
    );
    grpc = messagingClient(app.server.grpcAddress);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    grpc?.close();
    await app?.close();
    await postgres?.close();
  });
  beforeEach(async () => {
    // Each test starts from a replica that replays and has caught up.
    await postgres.resumeReplay().catch(() => undefined);
  });

  const connect = async (user: string) => {
    const socket = await TestClient.connect(app.server.httpUrl, await app.token(user));
    sockets.push(socket);
    return socket;
  };
  const pair = async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const [aliceSocket, bobSocket] = await Promise.all([connect(alice), connect(bob)]);
    const { conversation } = await aliceSocket.ok('startConversation', { participantId: bob });
    return { alice, bob, conversationId: conversation.conversationId, aliceSocket, bobSocket };
  };
  const send = async (socket: TestClient, conversationId: string, count: number) => {
    const sent: Message[] = [];
    for (let index = 0; index < count; index++) sent.push((await socket.ok('sendMessage', { conversationId, text: `message ${index}` })).message);
    return sent;
  };
  const grpcHistory = async (user: string, request: HistoryRequest) =>
    call<HistoryRequest, HistoryResponse__Output>(grpc, grpc.getMessageHistory, request, bearer(await app.token(user)));
  const grpcList = async (user: string, request: ListConversationsRequest) =>
    call<ListConversationsRequest, ListConversationsResponse__Output>(grpc, grpc.listConversations, request, bearer(await app.token(user)));

  /** messaging_reads_total and the fallbacks, as counted by now. */
  const counts = async () => {
    const text = await scrape(app.server.httpUrl);
    const value = (name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;
    return {
      replica: value('messaging_reads_total', { read: 'history', target: 'replica' }) + value('messaging_reads_total', { read: 'list', target: 'replica' }),
      primary: value('messaging_reads_total', { read: 'history', target: 'primary' }) + value('messaging_reads_total', { read: 'list', target: 'primary' }),
      behind: value('messaging_replica_fallbacks_total', { reason: 'behind' }),
      unavailable: value('messaging_replica_fallbacks_total', { reason: 'error' }) + value('messaging_replica_fallbacks_total', { reason: 'down' }),
      replicaUp: sample(text, 'messaging_dependency_up', { dependency: 'database_replica' }),
      lagBytes: value('messaging_replica_lag_bytes', {}),
    };
  };

  /** `rounds` times: a message from alice, then at once the newest of bob's history, alternately on each transport. */
  const sendThenReadNewest = async (rounds: number, { bob, aliceSocket, bobSocket, conversationId }: Omit<Awaited<ReturnType<typeof pair>>, 'alice'>) => {
    for (let round = 0; round < rounds; round++) {
      const [message] = await send(aliceSocket, conversationId, 1);
      const newest =
        round % 2 === 0
          ? (await bobSocket.ok('getMessageHistory', { conversationId, pageSize: 1 })).messages[0]?.messageId
          : (await grpcHistory(bob, { conversationId, pageSize: 1 })).messages?.[0]?.messageId;
      expect(newest, `round ${round}`).toBe(message!.messageId);
    }
  };

  /** History and the list, on both transports, as `user` sees them: four reads. */
  const readEverything = async (user: string, socket: TestClient, conversationId: string) => {
    const socketHistory = await socket.ok('getMessageHistory', { conversationId, pageSize: 100 });
    const rpcHistory = await grpcHistory(user, { conversationId, pageSize: 100 });
    const socketList = await socket.ok('listConversations', {});
    const rpcList = await grpcList(user, {});
    return {
      socketHistory: socketHistory.messages,
      rpcHistory: rpcHistory.messages ?? [],
      socketLast: socketList.conversations.find((c) => c.conversationId === conversationId)?.lastMessage,
      rpcLast: (rpcList.conversations ?? []).find((c) => c.conversationId === conversationId)?.lastMessage,
      socketUnread: socketList.conversations.find((c) => c.conversationId === conversationId)?.unreadCount,
    };
  };

  it('serves history and lists from the replica once it has replayed the writes, on both transports', async () => {
    const { alice, aliceSocket, conversationId } = await pair();
    const sent = await send(aliceSocket, conversationId, 5);
    await postgres.caughtUp();
    const before = await counts();

    const read = await readEverything(alice, aliceSocket, conversationId);

    const after = await counts();
    expect(after.replica - before.replica).toBe(4);
    expect(after.primary - before.primary).toBe(0);
    expect(after.replicaUp).toBe(1);
    expect(read.socketHistory.map((m) => m.messageId)).toEqual(sent.map((m) => m.messageId).reverse());
    expect(read.rpcHistory.map((m) => m.messageId)).toEqual(sent.map((m) => m.messageId).reverse());
    expect(read.socketLast?.messageId).toBe(sent.at(-1)!.messageId);
    expect(read.rpcLast?.messageId).toBe(sent.at(-1)!.messageId);
  });

  it('answers from the primary, within the request, with every acknowledged message and receipt, while the replica replay is paused', async () => {
    const { bob, aliceSocket, bobSocket, conversationId } = await pair();
    const early = await send(aliceSocket, conversationId, 2);
    await postgres.caughtUp();
    await postgres.pauseReplay();
    const late = await send(aliceSocket, conversationId, 3);
    await bobSocket.ok('markAsRead', { conversationId, lastReadMessageId: late[1]!.messageId });
    const before = await counts();

    const started = performance.now();
    const read = await readEverything(bob, bobSocket, conversationId);
    const elapsedMs = performance.now() - started;

    const after = await counts();
    expect(after.primary - before.primary).toBe(4);
    expect(after.replica - before.replica).toBe(0);
    expect(after.behind - before.behind).toBe(4);
    // The replica was asked and said "behind": the lag it reported is the WAL of the writes above.
    expect(after.lagBytes).toBeGreaterThan(0);
    const all = [...early, ...late].map((m) => m.messageId).reverse();
    expect(read.socketHistory.map((m) => m.messageId)).toEqual(all);
    expect(read.rpcHistory.map((m) => m.messageId)).toEqual(all);
    // The receipt acknowledged before the read is on the page: the read of late[0] and late[1].
    const readIds = (messages: Array<{ messageId?: string; readAt?: string | null }>) => messages.filter((m) => m.readAt).map((m) => m.messageId).sort();
    expect(readIds(read.socketHistory)).toEqual([...early, late[0]!, late[1]!].map((m) => m.messageId).sort());
    expect(readIds(read.rpcHistory)).toEqual(readIds(read.socketHistory));
    expect(read.socketLast?.messageId).toBe(late[2]!.messageId);
    expect(read.rpcLast?.messageId).toBe(late[2]!.messageId);
    expect(read.socketUnread).toBe(1);
    // No waiting on the paused replica: four reads, each one replica check and one primary read.
    expect(elapsedMs).toBeLessThan(2000);

    // Replay resumed and caught up: the replica answers again, the same pages, receipts included.
    await postgres.resumeReplay();
    await postgres.caughtUp();
    const again = await readEverything(bob, bobSocket, conversationId);
    const resumed = await counts();
    expect(resumed.replica - after.replica).toBe(4);
    expect(again.socketHistory).toEqual(read.socketHistory);
    expect(again.rpcHistory).toEqual(read.rpcHistory);
    expect(again.socketUnread).toBe(1);
  });

  it('never omits a message acknowledged before a read from a replica that lags (replays each commit 300 ms late)', async () => {
    const { bob, aliceSocket, bobSocket, conversationId } = await pair();
    await postgres.setApplyDelay(300);
    try {
      const before = await counts();
      await sendThenReadNewest(10, { bob, aliceSocket, bobSocket, conversationId });
      const after = await counts();
      // A read that took longer than the delay may have found the replica caught up; most did not.
      expect(after.behind - before.behind).toBeGreaterThanOrEqual(5);
      expect(after.primary - before.primary).toBe(after.behind - before.behind);
    } finally {
      await postgres.setApplyDelay(0);
    }
  });

  it('never omits a message acknowledged before a read, while the replica replays a steady stream of writes', async () => {
    const { bob, aliceSocket, bobSocket, conversationId } = await pair();
    const before = await counts();
    await sendThenReadNewest(60, { bob, aliceSocket, bobSocket, conversationId });
    const after = await counts();
    expect(after.replica + after.primary - before.replica - before.primary).toBe(60);
    // Most of these reads are the replica's: it is waited for briefly (a few ms) while it replays.
    expect(after.replica - before.replica).toBeGreaterThan(30);
  });

  it('gives up on a replica that hangs within the read, then skips it until it answers again', async () => {
    const { alice, aliceSocket, conversationId } = await pair();
    const sent = await send(aliceSocket, conversationId, 2);
    await postgres.caughtUp();
    const before = await counts();
    postgres.freezeReplica();
    try {
      const first = performance.now();
      const page = await aliceSocket.ok('getMessageHistory', { conversationId });
      const firstMs = performance.now() - first;
      expect(page.messages.map((m) => m.messageId)).toEqual(sent.map((m) => m.messageId).reverse());
      // The replica's connect or statement deadline (500 ms), then the primary's page.
      expect(firstMs).toBeLessThan(1500);
      await pollUntil('the probe to mark the hung replica down', async () => ((await counts()).replicaUp === 0 ? true : undefined), 5000, 50);
      const skipped = await counts();
      const next = performance.now();
      const read = await readEverything(alice, aliceSocket, conversationId);
      // Skipped, not waited for: four reads well within one replica deadline.
      expect(performance.now() - next).toBeLessThan(500);
      expect(read.rpcHistory.map((m) => m.messageId)).toEqual(sent.map((m) => m.messageId).reverse());
      const after = await counts();
      expect(after.primary - skipped.primary).toBe(4);
      expect(after.unavailable - skipped.unavailable).toBe(4);
      expect(after.replica - before.replica).toBe(0);
      expect((await fetch(`${app.server.httpUrl}/health/ready`)).status).toBe(200);
    } finally {
      postgres.thawReplica();
    }
    await pollUntil('the replica back in use', async () => {
      await aliceSocket.ok('getMessageHistory', { conversationId });
      const now = await counts();
      return now.replicaUp === 1 && now.replica > before.replica ? now : undefined;
    }, 15_000, 100);
  });

  it('reads from the primary while the replica is down, stays ready, logs the outage once, and goes back to the replica when it returns', async () => {
    const logStart = logLines.length;
    const { alice, aliceSocket, conversationId } = await pair();
    const sent = await send(aliceSocket, conversationId, 3);
    await postgres.stopReplica();
    try {
      const before = await counts();
      const more = await send(aliceSocket, conversationId, 2);
      for (let round = 0; round < 3; round++) {
        const read = await readEverything(alice, aliceSocket, conversationId);
        expect(read.socketHistory.map((m) => m.messageId)).toEqual([...sent, ...more].map((m) => m.messageId).reverse());
        expect(read.rpcHistory.map((m) => m.messageId)).toEqual([...sent, ...more].map((m) => m.messageId).reverse());
        expect(read.rpcLast?.messageId).toBe(more[1]!.messageId);
      }
      const after = await counts();
      expect(after.primary - before.primary).toBe(12);
      expect(after.replica - before.replica).toBe(0);
      expect(after.unavailable - before.unavailable).toBe(12);
      const ready = await fetch(`${app.server.httpUrl}/health/ready`);
      expect(ready.status).toBe(200);
      await pollUntil('the replica probe to report it down', async () => ((await counts()).replicaUp === 0 ? true : undefined), 5000, 50);
    } finally {
      await postgres.startReplica();
    }
    await pollUntil('the replica back in use', async () => {
      await aliceSocket.ok('getMessageHistory', { conversationId });
      const now = await counts();
      return now.replicaUp === 1 && now.replica > 0 ? now : undefined;
    }, 15_000, 100);
    const before = await counts();
    await readEverything(alice, aliceSocket, conversationId);
    expect((await counts()).replica - before.replica).toBe(4);

    // One line for the outage (however many reads and probes failed), one for the recovery.
    const replicaLines = logLines.slice(logStart).filter((line) => line.dependency === REPLICA_DEPENDENCY);
    const failing = replicaLines.filter((line) => String(line.msg).includes('is failing'));
    const causes = new Set(failing.map((line) => String(line.msg)));
    expect(failing.length).toBe(causes.size);
    expect(failing.length).toBeGreaterThan(0);
    expect(replicaLines.filter((line) => String(line.msg).includes('available again'))).toHaveLength(1);
  });
});
