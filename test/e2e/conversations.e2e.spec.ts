import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userId } from '../support/factories.js';
import { TestClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('conversations over Socket.IO', () => {
  let app: TestApp;
  const clients: TestClient[] = [];
  const connect = async (user: string) => {
    const client = await TestClient.connect(app.server.httpUrl, await app.token(user));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await app?.close();
  });

  it('starts one conversation per pair, whoever starts it', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const aliceClient = await connect(alice);
    const bobClient = await connect(bob);

    const first = await aliceClient.ok('startConversation', { participantId: bob });
    const again = await aliceClient.ok('startConversation', { participantId: bob });
    const fromBob = await bobClient.ok('startConversation', { participantId: alice });

    expect(first.conversation.participantIds.slice().sort()).toEqual([alice, bob].sort());
    expect(again.conversation).toEqual(first.conversation);
    expect(fromBob.conversation).toEqual(first.conversation);
    expect(Date.parse(first.conversation.createdAt)).not.toBeNaN();
  });

  it('starts them concurrently without creating two', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    app.graph.connect(alice, bob);
    const [aliceClient, bobClient] = await Promise.all([connect(alice), connect(bob)]);
    const results = await Promise.all([
      aliceClient.ok('startConversation', { participantId: bob }),
      bobClient.ok('startConversation', { participantId: alice }),
      aliceClient.ok('startConversation', { participantId: bob }),
    ]);
    expect(new Set(results.map((result) => result.conversation.conversationId)).size).toBe(1);
  });

  it('refuses users who are not connected, and oneself', async () => {
    const [carol, dave] = [userId('carol'), userId('dave')];
    const carolClient = await connect(carol);
    const refused = await carolClient.emit('startConversation', { participantId: dave });
    expect(refused).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    const self = await carolClient.emit('startConversation', { participantId: carol });
    expect(self).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('rejects malformed payloads with INVALID_ARGUMENT and keeps the socket', async () => {
    const client = await connect(userId('eve'));
    for (const payload of [undefined, null, 42, 'bob', [], {}, { participantId: 7 }, { participantId: '' }, { participantId: 'x'.repeat(129) }]) {
      expect(await client.emit('startConversation', payload)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    expect(await client.emit('listConversations', { pageSize: 'ten' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await client.emit('listConversations', { cursor: 'not-a-cursor' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(client.socket.connected).toBe(true);
  });

  it('lists conversations by latest activity with the last message and unread counts from each side', async () => {
    const [alice, bob, carol] = [userId('alice'), userId('bob'), userId('carol')];
    app.graph.connect(alice, bob);
    app.graph.connect(alice, carol);
    const aliceClient = await connect(alice);
    const bobClient = await connect(bob);
    const withBob = (await aliceClient.ok('startConversation', { participantId: bob })).conversation;
    const withCarol = (await aliceClient.ok('startConversation', { participantId: carol })).conversation;
    await bobClient.ok('sendMessage', { conversationId: withBob.conversationId, text: 'one' });
    const last = (await bobClient.ok('sendMessage', { conversationId: withBob.conversationId, text: 'two' })).message;

    const page = await aliceClient.ok('listConversations', {});
    expect(page.conversations.map((summary) => summary.conversationId)).toEqual([withBob.conversationId, withCarol.conversationId]);
    expect(page.conversations[0]).toMatchObject({ unreadCount: 2, lastMessage: { messageId: last.messageId, text: 'two' } });
    expect(page.conversations[1]).toMatchObject({ unreadCount: 0 });
    expect(page.conversations[1]?.lastMessage).toBeUndefined();
    expect(page.nextCursor).toBeUndefined();

    const bobPage = await bobClient.ok('listConversations', {});
    expect(bobPage.conversations).toHaveLength(1);
    expect(bobPage.conversations[0]).toMatchObject({ unreadCount: 0 });

    await aliceClient.ok('markAsRead', { conversationId: withBob.conversationId, lastReadMessageId: last.messageId });
    const after = await aliceClient.ok('listConversations', {});
    expect(after.conversations[0]).toMatchObject({ conversationId: withBob.conversationId, unreadCount: 0 });
  });

  it('pages the list with a cursor, each conversation exactly once', async () => {
    const alice = userId('alice');
    const aliceClient = await connect(alice);
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) {
      const friend = userId('friend');
      app.graph.connect(alice, friend);
      ids.push((await aliceClient.ok('startConversation', { participantId: friend })).conversation.conversationId);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await aliceClient.ok('listConversations', { pageSize: 3, ...(cursor ? { cursor } : {}) });
      expect(page.conversations.length).toBeLessThanOrEqual(3);
      seen.push(...page.conversations.map((summary) => summary.conversationId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids.slice().reverse());
  });

  it('does not tell a third user anything', async () => {
    const [alice, bob, mallory] = [userId('alice'), userId('bob'), userId('mallory')];
    app.graph.connect(alice, bob);
    const aliceClient = await connect(alice);
    const malloryClient = await connect(mallory);
    const { conversation } = await aliceClient.ok('startConversation', { participantId: bob });
    await aliceClient.ok('sendMessage', { conversationId: conversation.conversationId, text: 'private' });
    await malloryClient.drained();
    expect(malloryClient.received).toEqual([]);
    expect((await malloryClient.ok('listConversations', {})).conversations).toEqual([]);
  });
});
