import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AckResult } from '@platform/messaging-client/contract';
import { messageText, userId } from '../support/factories.js';
import { settle, type TestClient } from '../support/socket-client.js';
import { useApp, type AppFixture } from '../support/use-app.js';

/** alice (sockets a1, a2) and bob (sockets b1, b2) in one conversation. */
async function twoSocketsEach(ctx: AppFixture) {
  const started = await ctx.pair();
  const a2 = await ctx.connect(started.alice);
  const [b1, b2] = [await ctx.connect(started.bob), await ctx.connect(started.bob)];
  return { ...started, a2, b1, b2 };
}

const outcome = (result: AckResult<unknown>): string => (result.ok ? 'ok' : result.error.code);
/** Waits until the socket is closed on the server side too (its disconnect handled). */
const closeAndSettle = async (client: TestClient) => {
  client.close();
  await settle();
};

describe('typing indicators', () => {
  const ctx = useApp();

  it("sends typing to every socket of the other participant, not to the typist's sockets nor anyone else", async () => {
    const { alice, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    const carol = userId('carol');
    ctx.app.graph.connect(carol, alice);
    const c1 = await ctx.connect(carol);

    expect(await a1.emit('startTyping', { conversationId })).toEqual({ ok: true, data: {} });
    for (const client of [b1, b2]) expect(await client.waitFor('typing')).toEqual([{ conversationId, userId: alice }]);
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.received).toEqual([{ event: 'typing', payload: { conversationId, userId: alice } }]);
    for (const client of [a1, a2, c1]) expect(client.received).toEqual([]);
  });

  it('sends one typing event however often startTyping repeats, from any socket of the typist', async () => {
    const { alice, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    for (let index = 0; index < 4; index++) await a1.ok('startTyping', { conversationId });
    await a2.ok('startTyping', { conversationId });
    await b1.waitFor('typing');
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.events('typing')).toEqual([{ conversationId, userId: alice }]);
    for (const client of [b1, b2]) expect(client.events('typingStopped')).toEqual([]);
  });

  it('sends typingStopped after stopTyping, and typing again on the next start', async () => {
    const { alice, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    await b1.waitFor('typing');
    expect(await a1.emit('stopTyping', { conversationId })).toEqual({ ok: true, data: {} });
    for (const client of [b1, b2]) expect(await client.waitFor('typingStopped')).toEqual([{ conversationId, userId: alice }]);

    await a1.ok('startTyping', { conversationId });
    for (const client of [b1, b2]) expect(await client.waitFor('typing', undefined, { count: 2 })).toHaveLength(2);
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.received.map((entry) => entry.event)).toEqual(['typing', 'typingStopped', 'typing']);
    for (const client of [a1, a2]) expect(client.received).toEqual([]);
  });

  it('lets both participants type at once, each told about the other only', async () => {
    const { alice, bob, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    await b1.ok('startTyping', { conversationId });
    for (const client of [b1, b2]) expect(await client.waitFor('typing')).toEqual([{ conversationId, userId: alice }]);
    for (const client of [a1, a2]) expect(await client.waitFor('typing')).toEqual([{ conversationId, userId: bob }]);
    await ctx.drained();
    for (const client of [a1, a2, b1, b2]) expect(client.received).toHaveLength(1);
  });

  it('clears the indicator when the typist sends a message', async () => {
    const { alice, a1, b1, b2, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    await b1.waitFor('typing');
    const { message } = await a1.ok('sendMessage', { conversationId, text: messageText() });
    for (const client of [b1, b2]) {
      expect(await client.waitFor('typingStopped')).toEqual([{ conversationId, userId: alice }]);
      expect(await client.waitFor('newMessage')).toEqual([message]);
    }
    // Not typing any more: the next message clears nothing.
    await a1.ok('sendMessage', { conversationId, text: messageText() });
    await b1.waitFor('newMessage', undefined, { count: 2 });
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.events('typingStopped')).toHaveLength(1);
  });

  it("clears the indicator when the typist's last socket disconnects, not before", async () => {
    const { alice, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    await b1.waitFor('typing');

    await closeAndSettle(a1);
    for (const client of [b1, b2]) expect(client.events('typingStopped')).toEqual([]);

    a2.close();
    for (const client of [b1, b2]) expect(await client.waitFor('typingStopped')).toEqual([{ conversationId, userId: alice }]);
    await ctx.drained();
    for (const client of [b1, b2]) expect(client.events('typingStopped')).toHaveLength(1);
  });

  it('keeps indicators per conversation: stopping in one leaves the other, a last disconnect clears both', async () => {
    const { alice, a1, a2, b1, conversationId } = await twoSocketsEach(ctx);
    const carol = userId('carol');
    ctx.app.graph.connect(alice, carol);
    const c1 = await ctx.connect(carol);
    const withCarol = (await a1.ok('startConversation', { participantId: carol })).conversation.conversationId;

    await a1.ok('startTyping', { conversationId });
    await a1.ok('startTyping', { conversationId: withCarol });
    expect(await b1.waitFor('typing')).toEqual([{ conversationId, userId: alice }]);
    expect(await c1.waitFor('typing')).toEqual([{ conversationId: withCarol, userId: alice }]);

    await a1.ok('stopTyping', { conversationId });
    await b1.waitFor('typingStopped');
    await ctx.drained();
    expect(c1.events('typingStopped')).toEqual([]);

    a1.close();
    a2.close();
    expect(await c1.waitFor('typingStopped')).toEqual([{ conversationId: withCarol, userId: alice }]);
    await settle();
    expect(b1.events('typingStopped')).toHaveLength(1);
  });

  it('refuses non-participants and unknown conversations with PERMISSION_DENIED, telling nobody anything', async () => {
    const { alice, bob, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    const mallory = userId('mallory');
    ctx.app.graph.connect(mallory, alice);
    ctx.app.graph.connect(mallory, bob);
    const m1 = await ctx.connect(mallory);

    for (const event of ['startTyping', 'stopTyping'] as const) {
      expect(outcome(await m1.emit(event, { conversationId }))).toBe('PERMISSION_DENIED');
      expect(outcome(await m1.emit(event, { conversationId: randomUUID() }))).toBe('PERMISSION_DENIED');
      expect(outcome(await a1.emit(event, { conversationId: randomUUID() }))).toBe('PERMISSION_DENIED');
    }
    await ctx.drained();
    for (const client of [a1, a2, b1, b2, m1]) expect(client.received).toEqual([]);
  });

  it('rejects malformed payloads with INVALID_ARGUMENT and keeps the socket', async () => {
    const { a1, b1, conversationId } = await twoSocketsEach(ctx);
    for (const event of ['startTyping', 'stopTyping'] as const) {
      for (const payload of [undefined, null, 7, 'typing', [], {}, { conversationId: 'not-a-uuid' }, { conversationId: 42 }, [conversationId]]) {
        expect(await a1.emit(event, payload), `${event} ${JSON.stringify(payload)}`).toMatchObject({
          ok: false,
          error: { code: 'INVALID_ARGUMENT' },
        });
      }
    }
    await ctx.drained();
    expect(b1.received).toEqual([]);
    expect(a1.socket.connected).toBe(true);
    expect(outcome(await a1.emit('startTyping', { conversationId, extra: true }))).toBe('ok');
    await b1.waitFor('typing');
  });
});

describe('typing indicators with TYPING_TIMEOUT_MS=400', () => {
  const ctx = useApp({ TYPING_TIMEOUT_MS: '400' });

  it('clears the indicator by itself when startTyping is not repeated', async () => {
    const { alice, a1, a2, b1, b2, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    await b1.waitFor('typing');
    for (const client of [b1, b2]) expect(await client.waitFor('typingStopped', undefined, { timeoutMs: 3000 })).toEqual([{ conversationId, userId: alice }]);
    for (const client of [a1, a2]) expect(client.received).toEqual([]);

    // A new start after the timeout is a new indicator.
    await a1.ok('startTyping', { conversationId });
    expect(await b1.waitFor('typing', undefined, { count: 2 })).toHaveLength(2);
  });

  it('pushes the timeout back on every startTyping', async () => {
    const { alice, a1, b1, conversationId } = await twoSocketsEach(ctx);
    await a1.ok('startTyping', { conversationId });
    // Twice the timeout in all, never more than a quarter of it between two starts.
    for (let index = 0; index < 8; index++) {
      await settle(100);
      await a1.ok('startTyping', { conversationId });
    }
    expect(b1.events('typingStopped')).toEqual([]);
    expect(b1.events('typing')).toEqual([{ conversationId, userId: alice }]);
    expect(await b1.waitFor('typingStopped', undefined, { timeoutMs: 3000 })).toEqual([{ conversationId, userId: alice }]);
    await settle();
    expect(b1.events('typing')).toHaveLength(1);
    expect(b1.events('typingStopped')).toHaveLength(1);
  });
});
