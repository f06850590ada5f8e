import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { messageText, userId } from '../support/factories.js';
import { settle, TestClient } from '../support/socket-client.js';
import { useApp } from '../support/use-app.js';
import { TEST_JWT_SECRET } from '../support/test-app.js';

const SECRET = createSecretKey(Buffer.from(TEST_JWT_SECRET, 'utf8'));
const OTHER_SECRET = createSecretKey(Buffer.from('another-secret-that-is-long-enough-for-hs256', 'utf8'));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A token with exactly these claims (nothing added), signed with `alg`. */
function sign(claims: JWTPayload, options: { alg?: string; key?: KeyObject } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).sign(options.key ?? SECRET);
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Attempts a handshake; resolves with 'connected' or the connect_error message. The socket is closed either way. */
function handshake(url: string, options: { auth?: Record<string, unknown>; headers?: Record<string, string> }): Promise<string> {
  const socket = io(url, { auth: options.auth ?? {}, extraHeaders: options.headers, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.once('connect_error', (error) => {
      socket.close();
      resolve(error.message);
    });
  });
}

describe('Socket.IO handshake authentication', () => {
  const ctx = useApp();

  it('accepts a valid token in auth.token and acts as its subject', async () => {
    const alice = userId('alice');
    const bob = userId('bob');
    ctx.app.graph.connect(alice, bob);
    const client = await ctx.connect(alice);
    const { conversation } = await client.ok('startConversation', { participantId: bob });
    expect(conversation.participantIds.slice().sort()).toEqual([alice, bob].sort());
  });

  it('refuses missing, malformed and forged tokens with connect_error "UNAUTHENTICATED"', async () => {
    const sub = userId('alice');
    const exp = nowSeconds() + 3600;
    const valid = await sign({ sub, exp });
    const [header, , signature] = valid.split('.');
    const unsignedPayload = base64url({ sub, exp });
    const tokens: Record<string, unknown> = {
      'garbage': 'not-a-jwt',
      'three garbage parts': 'aaa.bbb.ccc',
      'empty string': '',
      'a number': 12345,
      'an object': { token: valid },
      'too long': `${valid}${'a'.repeat(9000)}`,
      'bad signature': await sign({ sub, exp }, { key: OTHER_SECRET }),
      'payload swapped under a valid signature': `${header}.${base64url({ sub: userId('mallory'), exp })}.${signature}`,
      'alg none': `${base64url({ alg: 'none', typ: 'JWT' })}.${unsignedPayload}.`,
      'alg none with the original signature': `${base64url({ alg: 'none', typ: 'JWT' })}.${unsignedPayload}.${signature}`,
      'HS512 with the right secret': await sign({ sub, exp }, { alg: 'HS512' }),
      'HS384 with the right secret': await sign({ sub, exp }, { alg: 'HS384' }),
      'ES256 with some key pair': await sign({ sub, exp }, { alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }),
      'expired ten minutes ago': await sign({ sub, exp: nowSeconds() - 600 }),
      'expired beyond the skew': await sign({ sub, exp: nowSeconds() - 120 }),
      'no exp': await sign({ sub }),
      'exp as a string': await sign({ sub, exp: String(exp) as unknown as number }),
      'nbf beyond the skew': await sign({ sub, exp, nbf: nowSeconds() + 120 }),
      'no sub': await sign({ exp }),
      'empty sub': await sign({ sub: '', exp }),
      'sub over 128 characters': await sign({ sub: 'u'.repeat(129), exp }),
      'sub not a string': await sign({ sub: 42 as unknown as string, exp }),
    };
    const results = await Promise.all(
      Object.entries(tokens).map(async ([name, token]) => [name, await handshake(ctx.url, { auth: { token } })] as const),
    );
    expect(Object.fromEntries(results)).toEqual(Object.fromEntries(Object.keys(tokens).map((name) => [name, 'UNAUTHENTICATED'])));
    expect(await handshake(ctx.url, {})).toBe('UNAUTHENTICATED');
  });

  it('accepts the edges of what is valid: nbf within the skew, a 128-character sub, iat absent', async () => {
    const exp = nowSeconds() + 3600;
    expect(await handshake(ctx.url, { auth: { token: await sign({ sub: userId('alice'), exp, nbf: nowSeconds() + 10 }) } })).toBe('connected');
    expect(await handshake(ctx.url, { auth: { token: await sign({ sub: `${userId('long')}-`.padEnd(128, 'x'), exp }) } })).toBe('connected');
    expect(await handshake(ctx.url, { auth: { token: await sign({ sub: userId('alice'), exp }) } })).toBe('connected');
  });

  it('takes the token from an Authorization: Bearer header as well', async () => {
    const [alice, bob] = [userId('alice'), userId('bob')];
    ctx.app.graph.connect(alice, bob);
    const token = await ctx.app.token(alice);
    const client = ctx.track(await TestClient.connect(ctx.url, undefined, { extraHeaders: { authorization: `Bearer ${token}` } }));
    const { conversation } = await client.ok('startConversation', { participantId: bob });
    expect(conversation.participantIds).toContain(alice);

    const expired = await sign({ sub: alice, exp: nowSeconds() - 600 });
    for (const header of [`Bearer ${expired}`, 'Bearer garbage', `Basic ${token}`, token, 'Bearer ']) {
      expect(await handshake(ctx.url, { headers: { authorization: header } }), header).toBe('UNAUTHENTICATED');
    }
  });

  it('disconnects a socket when its token expires, and only that socket', async () => {
    const alice = userId('alice');
    const lasting = await ctx.connect(alice);
    const expiring = await ctx.connect(alice, await ctx.app.token(alice, { ttlSeconds: 2 }));
    expect((await expiring.ok('listConversations', {})).conversations).toEqual([]);

    expect(await expiring.disconnected(4500)).toBe('io server disconnect');
    expect(lasting.socket.connected).toBe(true);
    expect((await lasting.ok('listConversations', {})).conversations).toEqual([]);
    // The same expired token cannot come back.
    expect(await handshake(ctx.url, { auth: { token: await sign({ sub: alice, exp: nowSeconds() - 60 }) } })).toBe('UNAUTHENTICATED');
  });
});

describe('Socket.IO handshake with JWT_ISSUER and JWT_AUDIENCE', () => {
  const ISSUER = 'https://auth.platform.test';
  const AUDIENCE = 'platform-service-messaging';
  const ctx = useApp({ JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

  it('accepts a token with the configured iss and aud, and refuses a wrong or missing one', async () => {
    const sub = userId('alice');
    const exp = nowSeconds() + 3600;
    expect(await handshake(ctx.url, { auth: { token: await ctx.app.token(sub) } })).toBe('connected');
    expect(await handshake(ctx.url, { auth: { token: await sign({ sub, exp, iss: ISSUER, aud: [AUDIENCE, 'other-service'] }) } })).toBe('connected');

    const refused: Record<string, string> = {
      'wrong iss': await sign({ sub, exp, iss: 'https://evil.test', aud: AUDIENCE }),
      'wrong aud': await sign({ sub, exp, iss: ISSUER, aud: 'another-service' }),
      'no iss': await sign({ sub, exp, aud: AUDIENCE }),
      'no aud': await sign({ sub, exp, iss: ISSUER }),
      'neither': await sign({ sub, exp }),
    };
    for (const [name, token] of Object.entries(refused)) {
      expect(await handshake(ctx.url, { auth: { token } }), name).toBe('UNAUTHENTICATED');
    }
  });
});

describe('MAX_SOCKETS_PER_USER=2', () => {
  const ctx = useApp({ MAX_SOCKETS_PER_USER: '2' });

  it('refuses one more handshake with connect_error "RESOURCE_EXHAUSTED" and takes a new one once a socket is gone', async () => {
    const alice = userId('alice');
    const token = await ctx.app.token(alice);
    const first = await ctx.connect(alice, token);
    await ctx.connect(alice, token);
    expect(await handshake(ctx.url, { auth: { token } })).toBe('RESOURCE_EXHAUSTED');
    // Other users have their own quota.
    expect(await handshake(ctx.url, { auth: { token: await ctx.app.token(userId('bob')) } })).toBe('connected');

    first.close();
    await settle();
    const replacement = await ctx.connect(alice, token);
    expect(replacement.socket.connected).toBe(true);
    expect(await handshake(ctx.url, { auth: { token } })).toBe('RESOURCE_EXHAUSTED');
  });

  it('does not overshoot the limit with concurrent handshakes, and refused ones take no slot', async () => {
    const alice = userId('alice');
    const token = await ctx.app.token(alice);
    expect(await handshake(ctx.url, { auth: { token: 'garbage' } })).toBe('UNAUTHENTICATED');
    const attempts = await Promise.all(
      Array.from({ length: 6 }, async () => {
        try {
          ctx.track(await TestClient.connect(ctx.url, token));
          return 'connected';
        } catch (error) {
          return (error as Error).message;
        }
      }),
    );
    expect(attempts.filter((result) => result === 'connected')).toHaveLength(2);
    expect(attempts.filter((result) => result === 'RESOURCE_EXHAUSTED')).toHaveLength(4);
  });
});

describe('identity comes from the token only', () => {
  const ctx = useApp();

  it('ignores user ids in payloads: the sender, reader and typist are the authenticated user', async () => {
    const [alice, bob, mallory] = [userId('alice'), userId('bob'), userId('mallory')];
    ctx.app.graph.connect(alice, bob);
    const a1 = await ctx.connect(alice);
    const b1 = await ctx.connect(bob);
    const { conversationId } = (await a1.ok('startConversation', { participantId: bob, userId: mallory })).conversation;

    const { message } = await a1.ok('sendMessage', { conversationId, text: messageText(), senderId: bob, userId: mallory });
    expect(message.senderId).toBe(alice);
    // Live, and possibly also by b1's catch-up on connect when the send committed before it ran
    // (CONTRACT §3.3: clients deduplicate by messageId): each copy is alice's message.
    for (const received of await b1.waitFor('newMessage')) expect(received).toEqual(message);

    await b1.ok('markAsRead', { conversationId, lastReadMessageId: message.messageId, readerId: mallory, userId: alice });
    expect(await a1.waitFor('messageRead')).toEqual([{ conversationId, messageId: message.messageId, readAt: expect.any(String), readerId: bob }]);

    await a1.ok('startTyping', { conversationId, userId: bob });
    expect(await b1.waitFor('typing')).toEqual([{ conversationId, userId: alice }]);
  });

  it('does not let a third user act as a participant by naming one', async () => {
    const [alice, bob, mallory] = [userId('alice'), userId('bob'), userId('mallory')];
    ctx.app.graph.connect(alice, bob);
    const a1 = await ctx.connect(alice);
    const b1 = await ctx.connect(bob);
    const { conversationId } = (await a1.ok('startConversation', { participantId: bob })).conversation;
    const m1 = await ctx.connect(mallory);

    const denied = { ok: false, error: { code: 'PERMISSION_DENIED' } };
    expect(await m1.emit('startConversation', { participantId: bob, userId: alice })).toMatchObject(denied);
    expect(await m1.emit('sendMessage', { conversationId, text: messageText(), senderId: alice, userId: alice })).toMatchObject(denied);
    expect(await m1.emit('getMessageHistory', { conversationId, userId: alice })).toMatchObject(denied);
    expect(await m1.emit('startTyping', { conversationId, userId: alice })).toMatchObject(denied);
    await ctx.drained();
    expect(a1.received).toEqual([]);
    expect(b1.received).toEqual([]);
  });
});
