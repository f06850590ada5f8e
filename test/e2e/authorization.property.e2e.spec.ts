import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { userId } from '../support/factories.js';
import { bearer, call, messagingClient, statusOf } from '../support/grpc-client.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Property: a user who is not a participant of a conversation can do nothing with it. Whatever the
 * (actor, conversation, action), the answer is PERMISSION_DENIED (the same for a conversation that
 * does not exist), nothing is written, and no one hears anything.
 */

const ACTIONS = ['sendMessage', 'markAsDelivered', 'markAsRead', 'startTyping', 'stopTyping', 'getMessageHistory', 'grpc:GetMessageHistory'] as const;
type Action = (typeof ACTIONS)[number];

interface World {
  users: string[];
  sockets: Map<string, TestClient>;
  conversations: Array<{ conversationId: string; participants: [string, string]; messageIds: string[] }>;
}

describe('authorization: non-participants can do nothing with a conversation', () => {
  let app: TestApp;
  let grpc: MessagingServiceClient;
  let db: pg.Client;
  const world: World = { users: [], sockets: new Map(), conversations: [] };
  /** Everything the service has sent to the world's sockets so far has arrived (TestClient.drained). */
  const drainAll = () => Promise.all([...world.sockets.values()].map((socket) => socket.drained()));

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MESSAGES_PER_SECOND: '100000', RATE_LIMIT_READS_PER_SECOND: '100000', RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '1000000' });
    grpc = messagingClient(app.server.grpcAddress);
    db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();

    // Six users, all first-degree connections of each other (so the Connections check never is what
    // refuses), plus an outsider connected to no one.
    const members = Array.from({ length: 6 }, (_, index) => userId(`member${index}`));
    const outsider = userId('outsider');
    for (const a of members) for (const b of members) if (a < b) app.graph.connect(a, b);
    world.users = [...members, outsider];
    for (const user of world.users) world.sockets.set(user, await TestClient.connect(app.server.httpUrl, await app.token(user)));

    // Conversations among some pairs; member5 and the outsider are in none.
    const pairs: Array<[number, number]> = [[0, 1], [0, 2], [1, 2], [3, 4], [2, 3]];
    for (const [i, j] of pairs) {
      const [a, b] = [members[i]!, members[j]!];
      const socketA = world.sockets.get(a)!;
      const socketB = world.sockets.get(b)!;
      const { conversation } = await socketA.ok('startConversation', { participantId: b });
      const messageIds: string[] = [];
      for (const [socket, text] of [[socketA, 'hi'], [socketB, 'hello'], [socketA, 'how are you?']] as const) {
        messageIds.push((await socket.ok('sendMessage', { conversationId: conversation.conversationId, text })).message.messageId);
      }
      // Partly marked, so that marking further would be a visible change.
      await socketB.ok('markAsDelivered', { conversationId: conversation.conversationId, lastDeliveredMessageId: messageIds[0] });
      world.conversations.push({ conversationId: conversation.conversationId, participants: [a, b], messageIds });
    }
    await drainAll();
  });

  afterAll(async () => {
    for (const socket of world.sockets.values()) socket.close();
    grpc?.close();
    await db?.end();
    await app?.close();
  });

  /** Everything stored about the conversations and the users, as one comparable value. */
  const snapshot = async (conversationIds: string[]) => {
    const conversations = await db.query(
      'SELECT id::text, user_a, user_b, last_seq, updated_at FROM conversation WHERE id = ANY($1::uuid[]) ORDER BY id',
      [conversationIds],
    );
    const messages = await db.query(
      `SELECT id::text, conversation_id::text, seq, sender_id, recipient_id, text, client_message_id, created_at, delivered_at, read_at
       FROM message WHERE conversation_id = ANY($1::uuid[]) OR sender_id = ANY($2) OR recipient_id = ANY($2)
       ORDER BY conversation_id, seq`,
      [conversationIds, world.users],
    );
    const userConversations = await db.query('SELECT count(*)::int AS n FROM conversation WHERE user_a = ANY($1) OR user_b = ANY($1)', [world.users]);
    return { conversations: conversations.rows, messages: messages.rows, userConversations: userConversations.rows[0] };
  };

  const receivedCounts = () => new Map([...world.sockets].map(([user, socket]) => [user, socket.received.length]));

  /** Every (actor, conversation) where the actor is not a participant, including a conversation that does not exist. */
  const targets = () => {
    const result: Array<{ actor: string; conversationId: string; messageIds: string[] }> = [];
    const ghost = { conversationId: randomUUID(), participants: ['', ''] as [string, string], messageIds: [randomUUID()] };
    for (const conversation of [...world.conversations, ghost]) {
      for (const actor of world.users) {
        if (!conversation.participants.includes(actor)) result.push({ actor, conversationId: conversation.conversationId, messageIds: conversation.messageIds });
      }
    }
    return result;
  };

  const perform = async (action: Action, actor: string, conversationId: string, messageId: string, text: string, clientMessageId: string | null) => {
    const socket = world.sockets.get(actor)!;
    switch (action) {
      case 'sendMessage':
        return socket.emit('sendMessage', { conversationId, text, ...(clientMessageId ? { clientMessageId } : {}) });
      case 'markAsDelivered':
        return socket.emit('markAsDelivered', { conversationId, lastDeliveredMessageId: messageId });
      case 'markAsRead':
        return socket.emit('markAsRead', { conversationId, lastReadMessageId: messageId });
      case 'startTyping':
        return socket.emit('startTyping', { conversationId });
      case 'stopTyping':
        return socket.emit('stopTyping', { conversationId });
      case 'getMessageHistory':
        return socket.emit('getMessageHistory', { conversationId, pageSize: 100 });
      case 'grpc:GetMessageHistory': {
        const request = call<HistoryRequest, HistoryResponse__Output>(grpc, grpc.getMessageHistory, { conversationId, pageSize: 100 }, bearer(await app.token(actor)));
        const code = await statusOf(request);
        return code === status.PERMISSION_DENIED ? { ok: false, error: { code: 'PERMISSION_DENIED' } } : { ok: 'unexpected', code };
      }
    }
  };

  it('answers PERMISSION_DENIED, writes nothing and tells no one', async () => {
    const allTargets = targets();
    expect(allTargets.length).toBeGreaterThan(20);
    const conversationIds = world.conversations.map((conversation) => conversation.conversationId);

    await fc.assert(
      fc.asyncProperty(
        fc.record({
          target: fc.constantFrom(...allTargets),
          action: fc.constantFrom(...ACTIONS),
          messageIndex: fc.nat(),
          text: fc.string({ minLength: 1, maxLength: 40 }).filter((text) => text.trim().length > 0),
          clientMessageId: fc.option(fc.uuid(), { nil: null }),
        }),
        async ({ target, action, messageIndex, text, clientMessageId }) => {
          const messageId = target.messageIds[messageIndex % target.messageIds.length]!;
          const before = await snapshot([...conversationIds, target.conversationId]);
          const heard = receivedCounts();

          const result = await perform(action, target.actor, target.conversationId, messageId, text, clientMessageId);
          expect(result, `${action} by ${target.actor}`).toEqual({ ok: false, error: { code: 'PERMISSION_DENIED', ...(action.startsWith('grpc:') ? {} : { message: expect.any(String) }) } });

          await drainAll();
          expect(await snapshot([...conversationIds, target.conversationId])).toEqual(before);
          const after = receivedCounts();
          for (const [user, count] of heard) {
            const news = world.sockets.get(user)!.received.slice(count);
            expect(after.get(user), `${user} heard ${JSON.stringify(news)} after ${action} by ${target.actor}`).toBe(count);
          }

          // And the conversation never shows up in the actor's list.
          const list = await world.sockets.get(target.actor)!.ok('listConversations', { pageSize: 100 });
          expect(list.conversations.map((summary) => summary.conversationId)).not.toContain(target.conversationId);
        },
      ),
      { numRuns: 35 },
    );
  });

  it('still lets the participants act: the refusals above were about membership only', async () => {
    for (const { conversationId, participants, messageIds } of world.conversations) {
      const [a, b] = participants;
      const socketA = world.sockets.get(a)!;
      const socketB = world.sockets.get(b)!;
      const page = await socketB.ok('getMessageHistory', { conversationId });
      expect(page.messages.map((message) => message.messageId)).toEqual(messageIds.slice().reverse());
      await socketB.ok('startTyping', { conversationId });
      await socketA.waitFor('typing', (event) => event.conversationId === conversationId && event.userId === b);
      await socketB.ok('stopTyping', { conversationId });
      await socketB.ok('markAsRead', { conversationId, lastReadMessageId: messageIds[2] });
      await socketA.waitFor('messageRead', (event) => event.conversationId === conversationId && event.readerId === b);
    }
  });
});
