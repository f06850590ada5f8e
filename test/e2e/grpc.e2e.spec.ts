import { createSecretKey, randomUUID } from 'node:crypto';
import { status, type Metadata } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation__Output } from '../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsRequest } from '../../src/generated/proto/messaging/v1/ListConversationsRequest.js';
import type { ListConversationsResponse__Output } from '../../src/generated/proto/messaging/v1/ListConversationsResponse.js';
import type { Message__Output } from '../../src/generated/proto/messaging/v1/Message.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import type { HealthClient } from '../../src/generated/proto/grpc/health/v1/Health.js';
import type { HealthCheckRequest } from '../../src/generated/proto/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse__Output } from '../../src/generated/proto/grpc/health/v1/HealthCheckResponse.js';
import { userId } from '../support/factories.js';
import { bearer, call, healthClient, messagingClient, statusOf } from '../support/grpc-client.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app.js';

describe('messaging.v1.MessagingService over gRPC', () => {
  let app: TestApp;
  let client: MessagingServiceClient;
  let health: HealthClient;
  const sockets: TestClient[] = [];

  const createConversation = async (user: string, request: CreateConversationRequest, metadata?: Metadata) =>
    call<CreateConversationRequest, Conversation__Output>(client, client.createConversation, request, metadata ?? bearer(await app.token(user)));
  const history = async (user: string, request: HistoryRequest, metadata?: Metadata) =>
    call<HistoryRequest, HistoryResponse__Output>(client, client.getMessageHistory, request, metadata ?? bearer(await app.token(user)));
  const listConversations = async (user: string, request: ListConversationsRequest, metadata?: Metadata) =>
    call<ListConversationsRequest, ListConversationsResponse__Output>(client, client.listConversations, request, metadata ?? bearer(await app.token(user)));
  const check = (service: string) =>
    call<HealthCheckRequest, HealthCheckResponse__Output>(health, health.check, { service }, bearer(undefined));

  const connect = async (user: string) => {
    const socket = await TestClient.connect(app.server.httpUrl, await app.token(user));
    sockets.push(socket);
    return socket;
  };

  /** A connected pair with a conversation, and a socket for each side. */
  const pair = async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const conversation = await createConversation(alice, { participantId: bob });
    const [aliceSocket, bobSocket] = await Promise.all([connect(alice), connect(bob)]);
    return { alice, bob, conversationId: conversation.conversationId!, aliceSocket, bobSocket };
  };

  /** Sends `count` messages through Socket.IO, `chunk` at a time, and returns them in seq order. */
  const seed = async (socket: TestClient, conversationId: string, count: number, chunk = 50) => {
    const sent: Array<{ messageId: string; seq: number }> = [];
    for (let start = 0; start < count; start += chunk) {
      const batch = Array.from({ length: Math.min(chunk, count - start) }, (_, index) =>
        socket.ok('sendMessage', { conversationId, text: `message ${start + index}` }),
      );
      for (const { message } of await Promise.all(batch)) sent.push(message);
    }
    return sent.sort((a, b) => a.seq - b.seq);
  };

  const messagesOf = (response: HistoryResponse__Output): Message__Output[] => response.messages ?? [];

  beforeAll(async () => {
    // The cursor walk sends a few hundred messages quickly; the rate limit is tested elsewhere.
    // One user creates 105 conversations below: the start limit is not what this file is about.
    app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000', RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '1000000' });
    client = messagingClient(app.server.grpcAddress);
    health = healthClient(app.server.grpcAddress);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    client?.close();
    health?.close();
    await app?.close();
  });

  describe('CreateConversation', () => {
    it('creates the conversation of a connected pair, the same one from either side and from Socket.IO', async () => {
      const [alice, bob] = [userId('alice'), userId('bob')];
      app.graph.connect(alice, bob);

      const created = await createConversation(alice, { participantId: bob });
      expect(created.conversationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.participantIds?.slice().sort()).toEqual([alice, bob].sort());
      expect(Date.parse(created.createdAt ?? '')).not.toBeNaN();
      expect(created.createdAt).toMatch(/Z$/);

      const again = await createConversation(alice, { participantId: bob });
      const fromBob = await createConversation(bob, { participantId: alice });
      expect(again).toEqual(created);
      expect(fromBob).toEqual(created);

      const overSocket = await (await connect(bob)).ok('startConversation', { participantId: alice });
      expect(overSocket.conversation).toEqual({
        conversationId: created.conversationId,
        participantIds: created.participantIds,
        createdAt: created.createdAt,
      });
    });

    it('creates one conversation when both sides create it at once', async () => {
      const [alice, bob] = [userId('alice'), userId('bob')];
      app.graph.connect(alice, bob);
      const results = await Promise.all([
        createConversation(alice, { participantId: bob }),
        createConversation(bob, { participantId: alice }),
        createConversation(alice, { participantId: bob }),
        createConversation(bob, { participantId: alice }),
      ]);
      expect(new Set(results.map((result) => result.conversationId)).size).toBe(1);
    });

    it('refuses users who are not connected with PERMISSION_DENIED', async () => {
      const [carol, dave] = [userId('carol'), userId('dave')];
      expect(await statusOf(createConversation(carol, { participantId: dave }))).toBe(status.PERMISSION_DENIED);
      // Being connected to someone else does not help.
      const erin = userId('erin');
      app.graph.connect(erin, dave);
      expect(await statusOf(createConversation(erin, { participantId: carol }))).toBe(status.PERMISSION_DENIED);
      expect(await statusOf(createConversation(carol, { participantId: erin }))).toBe(status.PERMISSION_DENIED);
    });

    it('refuses oneself, an empty or too long participant id with INVALID_ARGUMENT; a blank one is an id like any other', async () => {
      const carol = userId('carol');
      expect(await statusOf(createConversation(carol, { participantId: carol }))).toBe(status.INVALID_ARGUMENT);
      expect(await statusOf(createConversation(carol, { participantId: '' }))).toBe(status.INVALID_ARGUMENT);
      expect(await statusOf(createConversation(carol, {}))).toBe(status.INVALID_ARGUMENT);
      // CONTRACT §3.4: any non-empty string is a user id, never trimmed; this one is no connection of carol's.
      expect(await statusOf(createConversation(carol, { participantId: '   ' }))).toBe(status.PERMISSION_DENIED);
      expect(await statusOf(createConversation(carol, { participantId: 'x'.repeat(129) }))).toBe(status.INVALID_ARGUMENT);
    });
  });

  describe('GetMessageHistory', () => {
    it('returns newest first, 50 by default, with seq as a number and no next_cursor on the last page', async () => {
      const { alice, conversationId, bobSocket } = await pair();
      const sent = await seed(bobSocket, conversationId, 60);
      expect(sent.map((message) => message.seq)).toEqual(Array.from({ length: 60 }, (_, index) => index + 1));

      const first = await history(alice, { conversationId });
      const firstMessages = messagesOf(first);
      expect(firstMessages).toHaveLength(50);
      expect(firstMessages.map((message) => message.seq)).toEqual(Array.from({ length: 50 }, (_, index) => 60 - index));
      for (const message of firstMessages) {
        expect(typeof message.seq).toBe('number');
        expect(message.conversationId).toBe(conversationId);
        expect(message.text).toMatch(/^message \d+$/);
        expect(Date.parse(message.timestamp ?? '')).not.toBeNaN();
        expect(message.deliveredAt).toBeUndefined();
        expect(message.readAt).toBeUndefined();
        expect(message.clientMessageId).toBeUndefined();
      }
      expect(firstMessages[0]?.messageId).toBe(sent[59]?.messageId);
      expect(typeof first.nextCursor).toBe('string');

      const last = await history(alice, { conversationId, paginationCursor: first.nextCursor });
      expect(messagesOf(last).map((message) => message.seq)).toEqual(Array.from({ length: 10 }, (_, index) => 10 - index));
      expect(last.nextCursor).toBeUndefined();
    });

    it('ends without next_cursor when the last page is exactly full', async () => {
      const { bob, conversationId, aliceSocket } = await pair();
      await seed(aliceSocket, conversationId, 20);
      const first = await history(bob, { conversationId, pageSize: 10 });
      expect(messagesOf(first)).toHaveLength(10);
      const second = await history(bob, { conversationId, pageSize: 10, paginationCursor: first.nextCursor });
      expect(messagesOf(second).map((message) => message.seq)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      expect(second.nextCursor).toBeUndefined();
    });

    it('answers an empty conversation with no messages and no cursor', async () => {
      const { alice, conversationId } = await pair();
      const page = await history(alice, { conversationId });
      expect(messagesOf(page)).toEqual([]);
      expect(page.nextCursor).toBeUndefined();
    });

    it('treats a page size above 100 as 100', async () => {
      const { alice, conversationId, bobSocket } = await pair();
      await seed(bobSocket, conversationId, 120);
      const big = await history(alice, { conversationId, pageSize: 500 });
      expect(messagesOf(big)).toHaveLength(100);
      expect(messagesOf(big)[99]?.seq).toBe(21);
      expect(big.nextCursor).toBeDefined();
      const rest = await history(alice, { conversationId, pageSize: 500, paginationCursor: big.nextCursor });
      expect(messagesOf(rest)).toHaveLength(20);
      expect(rest.nextCursor).toBeUndefined();
      expect(messagesOf(await history(alice, { conversationId, pageSize: 100 }))).toHaveLength(100);
      expect(messagesOf(await history(alice, { conversationId, pageSize: 1 })).map((message) => message.seq)).toEqual([120]);
    });

    it('rejects a zero or negative page size, a bad cursor and a malformed conversation id with INVALID_ARGUMENT', async () => {
      const { alice, conversationId, bobSocket } = await pair();
      await seed(bobSocket, conversationId, 3);
      // A second conversation, so that a one-item page of alice's list has a cursor to misuse.
      const carol = userId('carol');
      app.graph.connect(alice, carol);
      await createConversation(alice, { participantId: carol });
      const listCursor = (await listConversations(alice, { pageSize: 1 })).nextCursor;
      expect(listCursor).toBeDefined();
      const forged = (values: unknown[]) => Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');

      for (const pageSize of [0, -1, -100]) {
        expect(await statusOf(history(alice, { conversationId, pageSize }))).toBe(status.INVALID_ARGUMENT);
      }
      for (const paginationCursor of ['not-a-cursor', '!!!', 'x'.repeat(600), forged(['h1']), forged(['h1', 0]), forged(['h1', -3]), forged(['h1', 'ten']), forged(['h1', 1.5]), forged({ h1: 1 } as unknown as unknown[])]) {
        expect(await statusOf(history(alice, { conversationId, paginationCursor })), paginationCursor).toBe(status.INVALID_ARGUMENT);
      }
      // A cursor of another kind (the conversation list's) is not a history cursor.
      expect(await statusOf(history(alice, { conversationId, paginationCursor: listCursor }))).toBe(status.INVALID_ARGUMENT);
      for (const id of ['not-a-uuid', '1234', `${conversationId}x`, "'; DROP TABLE message; --"]) {
        expect(await statusOf(history(alice, { conversationId: id }))).toBe(status.INVALID_ARGUMENT);
      }
      expect(await statusOf(history(alice, {}))).toBe(status.INVALID_ARGUMENT);
      expect(await statusOf(history(alice, { conversationId: '' }))).toBe(status.INVALID_ARGUMENT);
    });

    it("answers an unknown conversation and someone else's with PERMISSION_DENIED", async () => {
      const { conversationId, bobSocket } = await pair();
      await seed(bobSocket, conversationId, 2);
      const mallory = userId('mallory');
      expect(await statusOf(history(mallory, { conversationId }))).toBe(status.PERMISSION_DENIED);
      expect(await statusOf(history(mallory, { conversationId: randomUUID() }))).toBe(status.PERMISSION_DENIED);
      // The same answer for a participant asking about an id that does not exist.
      const { alice } = await pair();
      expect(await statusOf(history(alice, { conversationId: randomUUID() }))).toBe(status.PERMISSION_DENIED);
      expect(await statusOf(history(alice, { conversationId }))).toBe(status.PERMISSION_DENIED);
    });

    it('shows delivered_at and read_at once marked, and echoes client_message_id', async () => {
      const { alice, bob, conversationId, aliceSocket, bobSocket } = await pair();
      const sent = await seed(aliceSocket, conversationId, 4, 1);
      const withClientId = (await aliceSocket.ok('sendMessage', { conversationId, text: 'tagged', clientMessageId: 'client-1' })).message;
      await bobSocket.ok('markAsDelivered', { conversationId, lastDeliveredMessageId: sent[2]!.messageId });
      await bobSocket.ok('markAsRead', { conversationId, lastReadMessageId: sent[0]!.messageId });

      for (const viewer of [alice, bob]) {
        const bySeq = new Map(messagesOf(await history(viewer, { conversationId })).map((message) => [message.seq, message]));
        expect(bySeq.get(1)).toMatchObject({ deliveredAt: expect.any(String), readAt: expect.any(String) });
        for (const seq of [2, 3]) {
          expect(bySeq.get(seq)?.deliveredAt).toEqual(expect.any(String));
          expect(bySeq.get(seq)?.readAt).toBeUndefined();
        }
        for (const seq of [4, 5]) {
          expect(bySeq.get(seq)?.deliveredAt).toBeUndefined();
          expect(bySeq.get(seq)?.readAt).toBeUndefined();
        }
        expect(Date.parse(bySeq.get(1)?.readAt ?? '')).toBeGreaterThanOrEqual(Date.parse(bySeq.get(1)?.timestamp ?? ''));
        expect(bySeq.get(5)).toMatchObject({ messageId: withClientId.messageId, clientMessageId: 'client-1', text: 'tagged' });
        expect(bySeq.get(4)?.clientMessageId).toBeUndefined();
      }
    });

    it('visits every message that existed at the first page exactly once while new ones keep arriving', async () => {
      const { alice, conversationId, aliceSocket, bobSocket } = await pair();
      await seed(bobSocket, conversationId, 300);

      let writing = true;
      let addedDuringWalk = 0;
      const writer = (async () => {
        while (writing) {
          await Promise.all([
            aliceSocket.ok('sendMessage', { conversationId, text: 'concurrent from alice' }),
            bobSocket.ok('sendMessage', { conversationId, text: 'concurrent from bob' }),
          ]);
          addedDuringWalk += 2;
        }
      })();

      const seen: number[] = [];
      let newestAtStart = 0;
      let pages = 0;
      try {
        // Let the writer get going, so the first page already races with it.
        while (addedDuringWalk < 4) await new Promise((resolve) => setTimeout(resolve, 5));
        let cursor: string | undefined;
        do {
          const page = await history(alice, { conversationId, pageSize: 37, ...(cursor ? { paginationCursor: cursor } : {}) });
          const seqs = messagesOf(page).map((message) => message.seq ?? Number.NaN);
          if (pages === 0) newestAtStart = seqs[0] ?? 0;
          expect(seqs.length).toBeLessThanOrEqual(37);
          seen.push(...seqs);
          cursor = page.nextCursor;
          pages++;
          // Give the writer room between pages.
          await new Promise((resolve) => setTimeout(resolve, 2));
        } while (cursor);
      } finally {
        writing = false;
        await writer;
      }

      const addedAfterFirstPage = (await history(alice, { conversationId, pageSize: 1 })).messages?.[0]?.seq ?? 0;
      expect(addedAfterFirstPage, 'messages were added while walking').toBeGreaterThan(newestAtStart);
      expect(newestAtStart).toBeGreaterThanOrEqual(300);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(Array.from({ length: newestAtStart }, (_, index) => newestAtStart - index));
      expect(pages).toBe(Math.ceil(newestAtStart / 37));
    });
  });

  describe('ListConversations', () => {
    it('orders by latest activity with the last message and the unread count from the caller side', async () => {
      const [alice, bob, carol, dave] = [userId('alice'), userId('bob'), userId('carol'), userId('dave')];
      for (const friend of [bob, carol, dave]) app.graph.connect(alice, friend);
      const withBob = await createConversation(alice, { participantId: bob });
      const withCarol = await createConversation(carol, { participantId: alice });
      const withDave = await createConversation(alice, { participantId: dave });
      const [aliceSocket, bobSocket, carolSocket] = await Promise.all([connect(alice), connect(bob), connect(carol)]);

      await bobSocket.ok('sendMessage', { conversationId: withBob.conversationId, text: 'bob 1' });
      await carolSocket.ok('sendMessage', { conversationId: withCarol.conversationId, text: 'carol 1' });
      await bobSocket.ok('sendMessage', { conversationId: withBob.conversationId, text: 'bob 2' });
      const lastFromAlice = (await aliceSocket.ok('sendMessage', { conversationId: withBob.conversationId, text: 'alice 1' })).message;
      const lastFromCarol = (await carolSocket.ok('sendMessage', { conversationId: withCarol.conversationId, text: 'carol 2' })).message;

      const page = await listConversations(alice, {});
      const conversations = page.conversations ?? [];
      expect(conversations.map((summary) => summary.conversationId)).toEqual([withCarol.conversationId, withBob.conversationId, withDave.conversationId]);
      expect(page.nextCursor).toBeUndefined();

      const [carolSummary, bobSummary, daveSummary] = conversations;
      expect(carolSummary).toMatchObject({ unreadCount: 2, lastMessage: { messageId: lastFromCarol.messageId, text: 'carol 2', senderId: carol, seq: 2 } });
      expect(typeof carolSummary?.lastMessage?.seq).toBe('number');
      expect(bobSummary).toMatchObject({ unreadCount: 2, lastMessage: { messageId: lastFromAlice.messageId, text: 'alice 1', senderId: alice, seq: 3 } });
      expect(bobSummary?.participantIds?.slice().sort()).toEqual([alice, bob].sort());
      expect(daveSummary?.lastMessage).toBeUndefined();
      expect(daveSummary?.unreadCount ?? 0).toBe(0);
      for (const summary of conversations) expect(Date.parse(summary.updatedAt ?? '')).not.toBeNaN();
      expect(Date.parse(carolSummary!.updatedAt!)).toBeGreaterThanOrEqual(Date.parse(bobSummary!.updatedAt!));
      expect(Date.parse(bobSummary!.updatedAt!)).toBeGreaterThanOrEqual(Date.parse(daveSummary!.updatedAt!));

      // Bob's side: only alice's message is unread for him.
      const bobPage = (await listConversations(bob, {})).conversations ?? [];
      expect(bobPage).toHaveLength(1);
      expect(bobPage[0]?.unreadCount).toBe(1);

      // Reading clears the caller's count only.
      await aliceSocket.ok('markAsRead', { conversationId: withCarol.conversationId!, lastReadMessageId: lastFromCarol.messageId });
      const after = (await listConversations(alice, {})).conversations ?? [];
      expect(after[0]).toMatchObject({ conversationId: withCarol.conversationId });
      expect(after[0]?.unreadCount ?? 0).toBe(0);
      const carolView = (await listConversations(carol, {})).conversations ?? [];
      expect(carolView[0]?.unreadCount ?? 0).toBe(0);
    });

    it('answers a user without conversations with an empty list', async () => {
      const page = await listConversations(userId('loner'), {});
      expect(page.conversations ?? []).toEqual([]);
      expect(page.nextCursor).toBeUndefined();
    });

    it('pages with a cursor, each conversation exactly once, 20 by default and at most 100', async () => {
      const alice = userId('alice');
      const ids: string[] = [];
      const friends = Array.from({ length: 105 }, () => userId('friend'));
      for (const friend of friends) app.graph.connect(alice, friend);
      // One at a time, so activity order is creation order.
      for (const friend of friends) ids.push((await createConversation(alice, { participantId: friend })).conversationId!);
      const newestFirst = ids.slice().reverse();

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await listConversations(alice, { pageSize: 30, ...(cursor ? { cursor } : {}) });
        expect((page.conversations ?? []).length).toBeLessThanOrEqual(30);
        seen.push(...(page.conversations ?? []).map((summary) => summary.conversationId!));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(seen).toEqual(newestFirst);
      expect(pages).toBe(4);

      const byDefault = await listConversations(alice, {});
      expect(byDefault.conversations).toHaveLength(20);
      expect(byDefault.nextCursor).toBeDefined();
      const capped = await listConversations(alice, { pageSize: 500 });
      expect(capped.conversations).toHaveLength(100);
      const rest = await listConversations(alice, { pageSize: 500, cursor: capped.nextCursor });
      expect((rest.conversations ?? []).map((summary) => summary.conversationId)).toEqual(newestFirst.slice(100));
      expect(rest.nextCursor).toBeUndefined();
    });

    it('rejects a zero or negative page size and a bad cursor with INVALID_ARGUMENT', async () => {
      const alice = userId('alice');
      for (const pageSize of [0, -1]) expect(await statusOf(listConversations(alice, { pageSize }))).toBe(status.INVALID_ARGUMENT);
      const forged = (values: unknown[]) => Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
      for (const cursor of ['not-a-cursor', forged(['h1', 3]), forged(['c1', 'yesterday', randomUUID()]), forged(['c1', new Date().toISOString(), 'nope'])]) {
        expect(await statusOf(listConversations(alice, { cursor })), cursor).toBe(status.INVALID_ARGUMENT);
      }
    });
  });

  describe('authentication', () => {
    const key = createSecretKey(Buffer.from(TEST_JWT_SECRET, 'utf8'));
    const now = () => Math.floor(Date.now() / 1000);
    const base64url = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

    const rejectedMetadata = async (): Promise<Array<[string, Metadata]>> => {
      const user = userId('alice');
      const valid = await app.token(user);
      const [header, payload] = valid.split('.');
      const raw = (value: string) => {
        const metadata = bearer(undefined);
        metadata.set('authorization', value);
        return metadata;
      };
      return [
        ['no metadata', bearer(undefined)],
        ['garbage', bearer('garbage')],
        ['garbage with dots', bearer('a.b.c')],
        ['bad signature', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('1h').sign(createSecretKey(Buffer.from('another-secret-that-is-long-enough-000000', 'utf8'))))],
        ['tampered payload', bearer(`${header}.${base64url({ sub: userId('mallory'), exp: now() + 3600 })}.${valid.split('.')[2]}`)],
        ['expired', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt(now() - 600).setExpirationTime(now() - 120).sign(key))],
        ['without exp', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().sign(key))],
        ['not yet valid', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setNotBefore(now() + 600).setExpirationTime(now() + 3600).sign(key))],
        ['without sub', bearer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key))],
        ['alg none', bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`)],
        ['alg none with the original signature', bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.${valid.split('.')[2]}`)],
        ['another scheme', raw(`Basic ${valid}`)],
        ['no scheme', raw(valid)],
        ['empty bearer', raw('Bearer ')],
      ];
    };

    it('answers every RPC with UNAUTHENTICATED for a missing or rejected token', async () => {
      const cases = await rejectedMetadata();
      for (const [label, metadata] of cases) {
        expect(await statusOf(createConversation('', { participantId: userId('bob') }, metadata)), `CreateConversation, ${label}`).toBe(status.UNAUTHENTICATED);
        expect(await statusOf(history('', { conversationId: randomUUID() }, metadata)), `GetMessageHistory, ${label}`).toBe(status.UNAUTHENTICATED);
        expect(await statusOf(listConversations('', {}, metadata)), `ListConversations, ${label}`).toBe(status.UNAUTHENTICATED);
      }
    });

    it('checks the token before the payload', async () => {
      expect(await statusOf(history('', { conversationId: 'not-a-uuid', pageSize: -1 }, bearer('garbage')))).toBe(status.UNAUTHENTICATED);
      expect(await statusOf(createConversation('', {}, bearer(undefined)))).toBe(status.UNAUTHENTICATED);
    });

    it('accepts a token within the 30 s clock skew, and acts as the token user only', async () => {
      const [alice, bob] = [userId('alice'), userId('bob')];
      app.graph.connect(alice, bob);
      const justExpired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(alice).setExpirationTime(now() - 5).sign(key);
      const conversation = await createConversation('', { participantId: bob }, bearer(justExpired));
      expect(conversation.participantIds).toContain(alice);
      const page = await listConversations(bob, {});
      expect((page.conversations ?? []).map((summary) => summary.conversationId)).toEqual([conversation.conversationId]);
    });
  });

  describe('grpc.health.v1.Health', () => {
    it('is SERVING for the server and the messaging service, NOT_FOUND for an unknown service', async () => {
      expect(await check('')).toEqual({ status: 'SERVING' });
      expect(await check('messaging.v1.MessagingService')).toEqual({ status: 'SERVING' });
      expect(await statusOf(check('no.such.Service'))).toBe(status.NOT_FOUND);
      expect(await statusOf(check('messaging.v1.Unknown'))).toBe(status.NOT_FOUND);
    });

    it('needs no token', async () => {
      const response = await call<HealthCheckRequest, HealthCheckResponse__Output>(health, health.check, {}, bearer(undefined));
      expect(response.status).toBe('SERVING');
    });
  });
});
