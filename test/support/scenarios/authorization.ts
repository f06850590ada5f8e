import { randomUUID } from 'node:crypto';
import { status, type Metadata } from '@grpc/grpc-js';
import fc from 'fast-check';
import pg from 'pg';
import { expect, inject } from 'vitest';
import type { Conversation__Output } from '../../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { HistoryRequest } from '../../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsRequest } from '../../../src/generated/proto/messaging/v1/ListConversationsRequest.js';
import type { ListConversationsResponse__Output } from '../../../src/generated/proto/messaging/v1/ListConversationsResponse.js';
import { testCleanup } from '../cleanup.js';
import { report } from '../figures.js';
import { messageText, userId } from '../factories.js';
import { bearer, call, messagingClient, statusOf } from '../grpc-client.js';
import { TestClient } from '../socket-client.js';
import { startTestApp } from '../test-app.js';

/** Every client→server event and every RPC, as a non-participant would try them on someone else's conversation. */
export const ACTIONS = [
  'sendMessage',
  'sendMessage+clientMessageId',
  'markAsDelivered',
  'markAsRead',
  'startTyping',
  'stopTyping',
  'getMessageHistory',
  'listConversations',
  'startConversation',
  'grpc:GetMessageHistory',
  'grpc:ListConversations',
  'grpc:CreateConversation',
] as const;

/**
 * Property: whatever the user and whatever conversation they are not a participant of (or one that
 * does not exist), every event and every RPC is refused with PERMISSION_DENIED, writes nothing, and
 * tells no one anything; lists never show the conversation. `startConversation` and
 * `CreateConversation` name one of the conversation's participants, whom the actor is not
 * connected to. Users are connected only to the people they have conversations with, so the
 * membership check and the Connections check are each what refuses.
 */
export async function authorizationProperty(options: { pairs: number; users: number; conversations: number; seed?: number }): Promise<void> {
  const cleanup = testCleanup();
  const app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000', RATE_LIMIT_READS_PER_SECOND: '100000', RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '1000000' });
  cleanup.add(() => app.close());
  const grpc = messagingClient(app.server.grpcAddress);
  cleanup.add(() => grpc.close());
  const db = new pg.Client({ connectionString: inject('databaseUrl') });
  await db.connect();
  cleanup.add(() => db.end());
  const sockets = new Map<string, TestClient>();
  cleanup.add(() => [...sockets.values()].forEach((socket) => socket.close()));
  try {
    const users = Array.from({ length: options.users }, (_, index) => userId(`u${index}`));
    const metadata = new Map<string, Metadata>();
    await Promise.all(
      users.map(async (user) => {
        const token = await app.token(user);
        metadata.set(user, bearer(token));
        sockets.set(user, await TestClient.connect(app.server.httpUrl, token));
      }),
    );
    // Conversations between random distinct pairs, each with a few messages, partly marked.
    const conversations: Array<{ conversationId: string; participants: [string, string]; messageIds: string[] }> = [];
    const taken = new Set<string>();
    while (conversations.length < options.conversations) {
      const [a, b] = [users[Math.floor(Math.random() * users.length)]!, users[Math.floor(Math.random() * users.length)]!];
      const key = [a, b].sort().join('|');
      if (a === b || taken.has(key)) continue;
      taken.add(key);
      app.graph.connect(a, b);
      const [socketA, socketB] = [sockets.get(a)!, sockets.get(b)!];
      const { conversation } = await socketA.ok('startConversation', { participantId: b });
      const messageIds: string[] = [];
      for (const [socket, text] of [[socketA, 'hi'], [socketB, 'hello'], [socketA, 'how are you?']] as const) {
        messageIds.push((await socket.ok('sendMessage', { conversationId: conversation.conversationId, text })).message.messageId);
      }
      await socketB.ok('markAsDelivered', { conversationId: conversation.conversationId, lastDeliveredMessageId: messageIds[0] });
      conversations.push({ conversationId: conversation.conversationId, participants: [a, b], messageIds });
    }
    // Conversations that do not exist: refused the same way, so that ids cannot be probed.
    const ghosts: Array<(typeof conversations)[number]> = Array.from({ length: 3 }, () => ({
      conversationId: randomUUID(),
      participants: [users[0]!, users[1]!],
      messageIds: [randomUUID()],
    }));
    // One instance: once each socket's round trip is answered, every broadcast of the set-up has arrived.
    const drained = () => Promise.all([...sockets.values()].map((socket) => socket.drained()));
    await drained();
    const heardBefore = new Map([...sockets].map(([user, socket]) => [user, socket.received.length]));

    const snapshot = async () => {
      const ids = conversations.map((conversation) => conversation.conversationId);
      // One client runs one query at a time (pg deprecates queueing them on it).
      const conversationRows = await db.query('SELECT id::text, user_a, user_b, last_seq, updated_at FROM conversation WHERE user_a = ANY($1) OR user_b = ANY($1) ORDER BY id', [users]);
      const messageRows = await db.query(
        `SELECT id::text, conversation_id::text, seq, sender_id, recipient_id, text, client_message_id, created_at, delivered_at, read_at
         FROM message WHERE conversation_id = ANY($1::uuid[]) OR sender_id = ANY($2) OR recipient_id = ANY($2) ORDER BY conversation_id, seq`,
        [ids, users],
      );
      const count = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation WHERE user_a = ANY($1) OR user_b = ANY($1)', [users]);
      return { conversations: conversationRows.rows, messages: messageRows.rows, count: count.rows[0]!.n };
    };
    const before = await snapshot();

    const refusal = { ok: false, error: { code: 'PERMISSION_DENIED', message: expect.any(String) } };
    const targets = [...conversations, ...ghosts];
    let requests = 0;
    let leakedInLists = 0;
    const perform = async (actor: string, target: (typeof targets)[number], messageIndex: number, text: string) => {
      const socket = sockets.get(actor)!;
      const { conversationId } = target;
      const messageId = target.messageIds[messageIndex % target.messageIds.length]!;
      // A participant of the target the actor is not connected to (the graph only joins conversation partners).
      const stranger = target.participants.find((participant) => !app.graph.areConnected(actor, participant) && participant !== actor);
      const expectDenied = (result: unknown, action: string) => expect(result, `${action} by ${actor} on ${conversationId}`).toEqual(refusal);
      const expectStatus = async (pending: Promise<unknown>, action: string) => expect(await statusOf(pending), `${action} by ${actor}`).toBe(status.PERMISSION_DENIED);
      const notListed = (ids: Array<string | undefined>) => {
        if (ids.includes(conversationId)) leakedInLists++;
        expect(ids).not.toContain(conversationId);
      };
      requests += ACTIONS.length - (stranger ? 0 : 2);
      await Promise.all([
        socket.emit('sendMessage', { conversationId, text }).then((result) => expectDenied(result, 'sendMessage')),
        socket.emit('sendMessage', { conversationId, text, clientMessageId: randomUUID() }).then((result) => expectDenied(result, 'sendMessage+clientMessageId')),
        socket.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: messageId }).then((result) => expectDenied(result, 'markAsDelivered')),
        socket.emit('markAsRead', { conversationId, lastReadMessageId: messageId }).then((result) => expectDenied(result, 'markAsRead')),
        socket.emit('startTyping', { conversationId }).then((result) => expectDenied(result, 'startTyping')),
        socket.emit('stopTyping', { conversationId }).then((result) => expectDenied(result, 'stopTyping')),
        socket.emit('getMessageHistory', { conversationId, pageSize: 100 }).then((result) => expectDenied(result, 'getMessageHistory')),
        socket.ok('listConversations', { pageSize: 100 }).then((page) => notListed(page.conversations.map((summary) => summary.conversationId))),
        stranger ? socket.emit('startConversation', { participantId: stranger }).then((result) => expectDenied(result, 'startConversation')) : undefined,
        expectStatus(call<HistoryRequest, HistoryResponse__Output>(grpc, grpc.getMessageHistory, { conversationId, pageSize: 100 }, metadata.get(actor)!), 'GetMessageHistory'),
        call<ListConversationsRequest, ListConversationsResponse__Output>(grpc, grpc.listConversations, { pageSize: 100 }, metadata.get(actor)!).then((page) =>
          notListed(page.conversations.map((summary) => summary.conversationId)),
        ),
        stranger
          ? expectStatus(call<CreateConversationRequest, Conversation__Output>(grpc, grpc.createConversation, { participantId: stranger }, metadata.get(actor)!), 'CreateConversation')
          : undefined,
      ]);
    };

    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          actor: fc.constantFrom(...users),
          target: fc.constantFrom(...targets),
          messageIndex: fc.nat(),
          text: fc.string({ minLength: 1, maxLength: 40 }).filter((text) => text.trim().length > 0),
        }),
        async ({ actor, target, messageIndex, text }) => {
          fc.pre(!target.participants.includes(actor) || ghosts.includes(target));
          await perform(actor, target, messageIndex, text);
        },
      ),
      { numRuns: options.pairs, ...(options.seed === undefined ? {} : { seed: options.seed }) },
    );
    const propertyMs = performance.now() - started;

    // Nothing written, nothing heard, by anyone.
    await drained();
    expect(await snapshot()).toEqual(before);
    const leaked = [...sockets].flatMap(([user, socket]) => socket.received.slice(heardBefore.get(user)).map((entry) => ({ user, ...entry })));
    expect(leaked).toEqual([]);

    // The control: the same harness does see what participants do.
    const control = conversations[0]!;
    const [first, second] = control.participants;
    await sockets.get(first)!.ok('sendMessage', { conversationId: control.conversationId, text: messageText('control') });
    await sockets.get(second)!.waitFor('newMessage', (message) => message.conversationId === control.conversationId && message.text.startsWith('control'));

    report(`authorization property (${options.pairs} pairs)`, {
      users: users.length,
      conversations: conversations.length,
      user_conversation_pairs: options.pairs,
      requests,
      rows_written: 0,
      events_leaked: leaked.length,
      leaked_in_lists: leakedInLists,
      duration_ms: propertyMs,
    });
  } finally {
    await cleanup.run();
  }
}
