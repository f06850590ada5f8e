import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { encodeCursor } from '../../src/common/cursor.js';
import type { Conversation__Output } from '../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsRequest } from '../../src/generated/proto/messaging/v1/ListConversationsRequest.js';
import type { ListConversationsResponse__Output } from '../../src/generated/proto/messaging/v1/ListConversationsResponse.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { freePort } from '../../src/infrastructure/net/free-port.js';
import { messageText, userId } from '../support/factories.js';
import { bearer, call, messagingClient, statusOf } from '../support/grpc-client.js';
import { pollUntil, removeBuild } from '../support/processes.js';
import { handshakeThenReset } from '../support/raw-socket-io.js';
import { startServiceProcess } from '../support/service-process.js';
import { TestClient } from '../support/socket-client.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';
import { useApp, type AppFixture } from '../support/use-app.js';

/** CONTRACT §3.4: what a hostile client tried (issue 13), each case as it was reproduced. */
describe('socket slots count live sockets only (MAX_SOCKETS_PER_USER=3)', () => {
  const ctx = useApp({ MAX_SOCKETS_PER_USER: '3' });

  it('gives the slot back when the TCP connection resets right after the handshake packet', async () => {
    const user = userId('resetter');
    const token = await ctx.app.token(user);
    // 50 resets, 10 at once, as reported.
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 10 }, () => handshakeThenReset(ctx.url, token)));
    }
    // Every slot comes back: the user can hold the full quota again (polled: the server sees
    // the resets a moment after the client does).
    const sockets = await pollUntil('three sockets for the user', async () => {
      const attempts = await Promise.allSettled(Array.from({ length: 3 }, () => TestClient.connect(ctx.url, token)));
      const connected = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
      if (connected.length === 3) return connected;
      for (const client of connected) client.close();
      return undefined;
    }, 5000, 100);
    for (const client of sockets) ctx.track(client);
    await expect(TestClient.connect(ctx.url, token)).rejects.toThrow('RESOURCE_EXHAUSTED');
  });
});

/** gRPC calls of the three methods as a user, on the app's gRPC port. */
function grpcAs(ctx: AppFixture) {
  let client: MessagingServiceClient | undefined;
  const grpc = () => (client ??= messagingClient(ctx.app.server.grpcAddress));
  afterAll(() => client?.close());
  return {
    history: async (user: string, request: HistoryRequest, token?: string) =>
      call<HistoryRequest, HistoryResponse__Output>(grpc(), grpc().getMessageHistory, request, bearer(token ?? (await ctx.app.token(user)))),
    list: async (user: string, request: ListConversationsRequest) =>
      call<ListConversationsRequest, ListConversationsResponse__Output>(grpc(), grpc().listConversations, request, bearer(await ctx.app.token(user))),
    create: async (user: string, request: CreateConversationRequest, token?: string) =>
      call<CreateConversationRequest, Conversation__Output>(grpc(), grpc().createConversation, request, bearer(token ?? (await ctx.app.token(user)))),
  };
}

const refusedWith = (code: string) => ({ ok: false, error: { code } });

describe('exact ids, lone surrogates and forged cursors', () => {
  const ctx = useApp();
  const grpc = grpcAs(ctx);

  it('does not trim participantId: "t " is not user t', async () => {
    const alice = userId('alice');
    const t = userId('t');
    ctx.app.graph.connect(alice, t);
    const client = await ctx.connect(alice);
    // Not a connection of alice's, whatever t is.
    expect(await client.emit('startConversation', { participantId: `${t} ` })).toMatchObject(refusedWith('PERMISSION_DENIED'));
    expect(await statusOf(grpc.create(alice, { participantId: ` ${t}` }))).toBe(status.PERMISSION_DENIED);
    // Another user who is a connection: that conversation is with "t\t", exactly, not with t.
    ctx.app.graph.connect(alice, `${t}\t`);
    const { conversation } = await client.ok('startConversation', { participantId: `${t}\t` });
    expect(conversation.participantIds.slice().sort()).toEqual([alice, `${t}\t`].sort());
    const withT = (await client.ok('startConversation', { participantId: t })).conversation;
    expect(withT.conversationId).not.toBe(conversation.conversationId);
  });

  it('refuses lone surrogates: INVALID_ARGUMENT in ids, texts and clientMessageIds, UNAUTHENTICATED in a sub', async () => {
    const { a1, conversationId } = await ctx.pair();
    expect(await a1.emit('sendMessage', { conversationId, text: 'a\ud800b' })).toMatchObject(refusedWith('INVALID_ARGUMENT'));
    expect(await a1.emit('sendMessage', { conversationId, text: 'fine', clientMessageId: 'c\udc00' })).toMatchObject(refusedWith('INVALID_ARGUMENT'));
    expect(await a1.emit('startConversation', { participantId: 's\ud800' })).toMatchObject(refusedWith('INVALID_ARGUMENT'));
    // Nothing was stored, altered or not.
    expect((await a1.ok('getMessageHistory', { conversationId })).messages).toEqual([]);

    const forged = await ctx.app.token(`s\ud800${userId()}`);
    await expect(TestClient.connect(ctx.url, forged)).rejects.toThrow('UNAUTHENTICATED');
    expect(await statusOf(grpc.create('', { participantId: 'bob' }, forged))).toBe(status.UNAUTHENTICATED);
  });

  it('answers forged cursors with INVALID_ARGUMENT on both transports, never INTERNAL', async () => {
    const { alice, a1, conversationId } = await ctx.pair();
    const forgedHistory = [encodeCursor('h1', [2147483648]), encodeCursor('h1', [1e300]), encodeCursor('h1', ['1'])];
    const forgedList = [
      encodeCursor('c1', ['-271821-04-20T00:00:00.000Z', randomUUID()]),
      encodeCursor('c1', ['+275760-09-13T00:00:00.000Z', randomUUID()]),
      encodeCursor('c1', [new Date().toISOString(), '-'.repeat(36)]),
      encodeCursor('c1', ['Tue, 01 Dec 2026 10:00:00 GMT', randomUUID()]),
    ];
    for (const paginationCursor of forgedHistory) {
      expect(await a1.emit('getMessageHistory', { conversationId, paginationCursor })).toMatchObject(refusedWith('INVALID_ARGUMENT'));
      expect(await statusOf(grpc.history(alice, { conversationId, paginationCursor }))).toBe(status.INVALID_ARGUMENT);
    }
    for (const cursor of forgedList) {
      expect(await a1.emit('listConversations', { cursor })).toMatchObject(refusedWith('INVALID_ARGUMENT'));
      expect(await statusOf(grpc.list(alice, { cursor }))).toBe(status.INVALID_ARGUMENT);
    }
    // Tampered but well-formed: a valid page of the requested conversation.
    expect(await a1.emit('getMessageHistory', { conversationId, paginationCursor: encodeCursor('h1', [2147483647]) })).toMatchObject({ ok: true });
    expect(await a1.emit('listConversations', { cursor: encodeCursor('c1', ['0001-01-01T00:00:00.000Z', randomUUID()]) })).toMatchObject({ ok: true });
    // None of it counted as a server fault.
    const metrics = await (await fetch(`${ctx.url}/metrics`)).text();
    expect(metrics).not.toMatch(/result="INTERNAL"/);
  });

  it('starts conversations between ids the database collation orders otherwise (case, punctuation, emoji vs private use and fullwidth)', async () => {
    const tag = userId('');
    const pairs: Array<[string, string]> = [
      [`alice${tag}`, `Bob${tag}`],
      [`B${tag}`, `a${tag}`],
      [`user-1${tag}`, `user_1${tag}`],
      [`😀${tag}`, `\ue000${tag}`],
      [`😀${tag}`, `\uff21${tag}`],
      [`\u{10ffff}${tag}`, `\uffff${tag}`],
    ];
    for (const [first, second] of pairs) {
      ctx.app.graph.connect(first, second);
      const [one, other] = [await ctx.connect(first), await ctx.connect(second)];
      const started = (await one.ok('startConversation', { participantId: second })).conversation;
      const again = (await other.ok('startConversation', { participantId: first })).conversation;
      expect(again.conversationId).toBe(started.conversationId);
      expect(started.participantIds.slice().sort()).toEqual([first, second].sort());
      expect((await grpc.create(first, { participantId: second })).conversationId).toBe(started.conversationId);
      one.close();
      other.close();
    }
  });
});

describe('every client event is rate-limited per user (reads 1/s, starts 3/min, messages 1/s)', () => {
  const ctx = useApp({ RATE_LIMIT_READS_PER_SECOND: '1', RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '3', RATE_LIMIT_MESSAGES_PER_SECOND: '1' });
  const grpc = grpcAs(ctx);

  it('counts history and list reads of both transports in one bucket (burst twice the rate)', async () => {
    const { alice, a1, conversationId } = await ctx.pair();
    expect(await a1.emit('getMessageHistory', { conversationId })).toMatchObject({ ok: true });
    await grpc.list(alice, {});
    // The bucket (2) is empty now, whichever transport asks; refilling takes a second.
    expect(await a1.emit('listConversations', {})).toMatchObject(refusedWith('RESOURCE_EXHAUSTED'));
    expect(await statusOf(grpc.history(alice, { conversationId }))).toBe(status.RESOURCE_EXHAUSTED);
    // Another user's reads are their own.
    const { a1: other, conversationId: theirs } = await ctx.pair();
    expect(await other.emit('getMessageHistory', { conversationId: theirs })).toMatchObject({ ok: true });
  });

  it('limits receipts too, both kinds together, at five times the message rate (burst twice that)', async () => {
    const { bob, a1, conversationId } = await ctx.pair();
    const { message } = await (await ctx.connect(bob)).ok('sendMessage', { conversationId, text: messageText() });
    // 20 at once: the burst (10) passes, the rest is refused.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        index % 2
          ? a1.emit('markAsRead', { conversationId, lastReadMessageId: message.messageId })
          : a1.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: message.messageId }),
      ),
    );
    const codes = countBy(results.map((result) => (result.ok ? 'ok' : result.error.code)));
    expect(codes.ok).toBeGreaterThanOrEqual(10);
    expect(codes.ok + codes.RESOURCE_EXHAUSTED!).toBe(20);
    expect(codes.RESOURCE_EXHAUSTED).toBeGreaterThanOrEqual(8);
  });

  it('throttles startConversation before asking Connections, so a flood cannot trip its breaker', async () => {
    const flooder = userId('flooder');
    const friends = Array.from({ length: 8 }, () => userId('friend'));
    for (const friend of friends) ctx.app.graph.connect(flooder, friend);
    const client = await ctx.connect(flooder);
    // Burst of 6 (twice 3 a minute), socket and gRPC together.
    for (const friend of friends.slice(0, 4)) await client.ok('startConversation', { participantId: friend });
    for (const friend of friends.slice(4, 6)) await grpc.create(flooder, { participantId: friend });
    const callsBefore = ctx.app.connections.calls;
    expect(await client.emit('startConversation', { participantId: friends[6] })).toMatchObject(refusedWith('RESOURCE_EXHAUSTED'));
    expect(await statusOf(grpc.create(flooder, { participantId: friends[7]! }))).toBe(status.RESOURCE_EXHAUSTED);
    expect(ctx.app.connections.calls).toBe(callsBefore);
  });
});

describe('read floods do not slow down other users\' sends (default limits)', () => {
  const ctx = useApp();
  const grpc = grpcAs(ctx);

  /** Ack times of `count` sends, one after the other, while `flood` runs. */
  async function sendsDuring(flood: Promise<unknown>, count = 10): Promise<number[]> {
    const { a1, conversationId } = await ctx.pair();
    const times: number[] = [];
    for (let index = 0; index < count; index++) {
      const started = performance.now();
      expect(await a1.emit('sendMessage', { conversationId, text: messageText() }, 10_000)).toMatchObject({ ok: true });
      times.push(performance.now() - started);
    }
    await flood;
    return times;
  }

  it('refuses one user\'s 5,000 history reads and 1,000 concurrent gRPC reads beyond the limit, never INTERNAL', async () => {
    const { alice, a1, conversationId } = await ctx.pair();
    const socketFlood = Promise.all(Array.from({ length: 5000 }, () => a1.emit('getMessageHistory', { conversationId, pageSize: 100 }, 20_000)));
    const token = await ctx.app.token(alice);
    const grpcFlood = Promise.all(Array.from({ length: 1000 }, () => statusOf(grpc.history(alice, { conversationId, pageSize: 100 }, token))));
    const sendTimes = await sendsDuring(Promise.all([socketFlood, grpcFlood]));
    const socketCodes = countBy((await socketFlood).map((result) => (result.ok ? 'ok' : result.error.code)));
    const grpcCodes = countBy(await grpcFlood);
    // The flood is refused beyond the user's burst. The flooder's own admitted reads may meet
    // UNAVAILABLE when this shared 2-core process (clients and server) is too busy to open a
    // database connection in time; never INTERNAL.
    expect(socketCodes.RESOURCE_EXHAUSTED).toBeGreaterThan(4000);
    expect(Object.keys(socketCodes).filter((code) => !['ok', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE'].includes(code))).toEqual([]);
    expect(grpcCodes[status.RESOURCE_EXHAUSTED]).toBeGreaterThan(900);
    expect(Object.keys(grpcCodes).filter((code) => !['ok', String(status.RESOURCE_EXHAUSTED), String(status.UNAVAILABLE)].includes(code))).toEqual([]);
    // The contract's delivery floor (CONTRACT §4.1) bounds every send.
    expect(Math.max(...sendTimes)).toBeLessThan(500);
  });

  it('keeps reads admitted for many users to part of the pool, so sends find a connection', async () => {
    // 25 users within their own limit (a burst of 40 each): 1,000 reads at once.
    const readers = await Promise.all(Array.from({ length: 25 }, () => ctx.pair()));
    const flood = Promise.all(
      readers.flatMap(({ a1, conversationId }) => Array.from({ length: 40 }, () => a1.emit('getMessageHistory', { conversationId, pageSize: 100 }, 20_000))),
    );
    const sendTimes = await sendsDuring(flood);
    const codes = countBy((await flood).map((result) => (result.ok ? 'ok' : result.error.code)));
    expect(codes.INTERNAL ?? 0).toBe(0);
    expect(codes.UNAVAILABLE ?? 0).toBe(0);
    expect(Math.max(...sendTimes)).toBeLessThan(500);
  });
});

describe('production prints no credentials', () => {
  afterAll(() => removeBuild());

  it('prints no demo token or link with NODE_ENV=production, even on the embedded Connections service', { timeout: 90_000 }, async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const child = startServiceProcess({
      NODE_ENV: 'production',
      DATABASE_URL: inject('databaseUrl'),
      JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      PORT: String(port),
      GRPC_PORT: String(grpcPort),
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '0',
    });
    // Production may refuse to start without CONNECTIONS_GRPC_URL (CONTRACT §1.2); either way nothing is printed.
    const outcome = await child.waitReady(`http://127.0.0.1:${port}`, 60_000).then(() => 'ready', () => 'exited');
    if (outcome === 'ready') {
      // Exit status 0 means the SIGTERM handler ran, and main() installs it after any demo output.
      expect((await child.stop('SIGTERM')).code).toBe(0);
    } else {
      child.kill('SIGKILL');
      await child.exited;
    }
    expect(child.output()).not.toMatch(/token=|eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });
});

function countBy(values: Array<string | number>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
