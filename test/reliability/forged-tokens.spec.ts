import { createHmac, generateKeyPairSync, randomUUID, sign as rsaSign, type KeyObject } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation__Output } from '../../src/generated/proto/messaging/v1/Conversation.js';
import type { CreateConversationRequest } from '../../src/generated/proto/messaging/v1/CreateConversationRequest.js';
import type { HistoryRequest } from '../../src/generated/proto/messaging/v1/HistoryRequest.js';
import type { HistoryResponse__Output } from '../../src/generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsRequest } from '../../src/generated/proto/messaging/v1/ListConversationsRequest.js';
import type { ListConversationsResponse__Output } from '../../src/generated/proto/messaging/v1/ListConversationsResponse.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import { report, sample, scrape } from '../support/figures.js';
import { userId } from '../support/factories.js';
import { bearer, call, messagingClient, statusOf } from '../support/grpc-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ISSUER = 'https://auth.platform.test';
const AUDIENCE = 'platform-service-messaging';
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

/**
 * CONTRACT §2 against a corpus of forged tokens, on both transports, with the service configured as
 * production is: an RS256 public key (JWT_PUBLIC_KEY), JWT_ISSUER and JWT_AUDIENCE. The corpus is
 * built from a real key pair generated here; each token is tried in the Socket.IO handshake (auth
 * and Authorization header) and on every gRPC method. Nothing may be accepted; the one valid token
 * is, so that the refusals are about the forgeries.
 */
describe('forged tokens on both transports (RS256 configured)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let app: TestApp;
  let grpc: MessagingServiceClient;

  beforeAll(async () => {
    // The longest Connections deadline allowed: the control's CreateConversation must be refused for the
    // missing connection (PERMISSION_DENIED), not for a slow answer on a loaded machine (UNAVAILABLE).
    app = await startTestApp({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicPem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, CONNECTIONS_TIMEOUT_MS: '1500' });
    grpc = messagingClient(app.server.grpcAddress);
  });
  afterAll(async () => {
    grpc?.close();
    await app?.close();
  });

  const sign = (claims: JWTPayload, options: { alg?: string; key?: KeyObject | Uint8Array; header?: Record<string, unknown> } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT', ...options.header }).sign(options.key ?? privateKey);
  /** HS256 by hand: jose refuses to use an asymmetric key's PEM as an HMAC secret, an attacker does not. */
  const hmac = (claims: JWTPayload, secret: string | Buffer, alg: 'HS256' | 'HS512' = 'HS256') => {
    const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
    return `${input}.${createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret).update(input).digest('base64url')}`;
  };

  /** RS256 by hand, with whatever header: jose refuses to sign with an unknown critical header. */
  const rs256 = (protectedHeader: Record<string, unknown>, claims: JWTPayload) => {
    const input = `${b64({ alg: 'RS256', typ: 'JWT', ...protectedHeader })}.${b64(claims)}`;
    return `${input}.${rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  };

  const handshake = (token: unknown, via: 'auth' | 'header') =>
    new Promise<string>((resolve) => {
      const socket = io(app.server.httpUrl, {
        auth: via === 'auth' ? { token } : {},
        extraHeaders: via === 'header' ? { authorization: `Bearer ${String(token)}` } : undefined,
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 5000,
      });
      const timer = setTimeout(() => {
        socket.close();
        resolve(socket.connected ? 'ACCEPTED' : 'no answer');
      }, 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve('ACCEPTED');
        socket.close();
      });
      socket.once('connect_error', (error) => {
        clearTimeout(timer);
        resolve(error.message);
        socket.close();
      });
      // Refused below Socket.IO (the transport closed before any answer): not accepted either.
      // (connect_error, when there is one, wins: it may come just after the close).
      socket.io.once('close', (reason) => {
        setTimeout(() => {
          clearTimeout(timer);
          resolve(`closed: ${reason}`);
        }, 200);
      });
    });

  const rpcs = async (token: string) => {
    const metadata = bearer(token);
    const deadline = <T>(pending: Promise<T>) =>
      Promise.race([pending, new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), 5000))]);
    const codes = await Promise.all([
      deadline(statusOf(call<CreateConversationRequest, Conversation__Output>(grpc, grpc.createConversation, { participantId: userId('bob') }, metadata))),
      deadline(statusOf(call<HistoryRequest, HistoryResponse__Output>(grpc, grpc.getMessageHistory, { conversationId: randomUUID() }, metadata))),
      deadline(statusOf(call<ListConversationsRequest, ListConversationsResponse__Output>(grpc, grpc.listConversations, {}, metadata))),
    ]);
    return codes.map((code) => (code === 'ok' ? 'ACCEPTED' : code === status.UNAUTHENTICATED ? 'UNAUTHENTICATED' : typeof code === 'number' ? `status ${code}` : code));
  };

  it('accepts none of them, and answers UNAUTHENTICATED (the 100 KB one may be refused earlier, by the transport)', async () => {
    const sub = userId('mallory');
    const exp = nowSeconds() + 3600;
    const claims = { sub, exp, iss: ISSUER, aud: AUDIENCE };
    const valid = await sign(claims);
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const big = await sign({ ...claims, pad: 'x'.repeat(100 * 1024) });
    const attackerJwk = await exportJWK(attacker.publicKey);

    const corpus: Record<string, string> = {
      'alg none, no signature': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'alg none, the valid signature kept': `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`,
      'alg "None"': `${b64({ alg: 'None', typ: 'JWT' })}.${b64(claims)}.`,
      'HS256 signed with the RS256 public key (PEM)': hmac(claims, publicPem),
      'HS256 signed with the public key PEM, no trailing newline': hmac(claims, publicPem.trim()),
      'HS256 signed with the public key (DER)': hmac(claims, publicKey.export({ type: 'spki', format: 'der' })),
      'HS512 signed with the public key (PEM)': hmac(claims, publicPem, 'HS512'),
      'RS256 signed by another key': await sign(claims, { key: attacker.privateKey }),
      'RS256 by another key, its JWK embedded in the header': await sign(claims, { key: attacker.privateKey, header: { jwk: attackerJwk } }),
      'RS256 by another key, a jku pointing elsewhere': await sign(claims, { key: attacker.privateKey, header: { jku: 'https://evil.test/jwks.json', kid: 'evil' } }),
      'RS512 with the right key': await sign(claims, { alg: 'RS512' }),
      'PS256 with the right key': await sign(claims, { alg: 'PS256' }),
      'ES256 with some key': await sign(claims, { alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }),
      'missing exp': await sign({ sub, iss: ISSUER, aud: AUDIENCE }),
      'exp as a string': await sign({ ...claims, exp: String(exp) as unknown as number }),
      'expired beyond the 30 s skew': await sign({ ...claims, exp: nowSeconds() - 60 }),
      'nbf in the future beyond the skew': await sign({ ...claims, nbf: nowSeconds() + 120 }),
      'wrong iss': await sign({ ...claims, iss: 'https://evil.test' }),
      'missing iss': await sign({ sub, exp, aud: AUDIENCE }),
      'wrong aud': await sign({ ...claims, aud: 'another-service' }),
      'missing aud': await sign({ sub, exp, iss: ISSUER }),
      'tampered payload (another sub), signature kept': `${header}.${b64({ ...claims, sub: userId('victim') })}.${signature}`,
      'tampered payload (exp pushed), signature kept': `${header}.${b64({ ...claims, exp: exp + 86_400 })}.${signature}`,
      'tampered header (kid added), signature kept': `${b64({ alg: 'RS256', typ: 'JWT', kid: 'x' })}.${payload}.${signature}`,
      'signature stripped': `${header}.${payload}.`,
      'signature truncated': `${header}.${payload}.${signature.slice(0, -4)}`,
      'unknown critical header, validly signed': rs256({ crit: ['exp-ext'], 'exp-ext': true }, claims),
      'empty sub': await sign({ ...claims, sub: '' }),
      'sub over 128 characters': await sign({ ...claims, sub: 'u'.repeat(129) }),
      'sub with U+0000, validly signed': await sign({ ...claims, sub: `${sub}\u0000` }),
      'two tokens joined': `${valid}.${valid}`,
      'a JWE-shaped token': `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${'a'.repeat(40)}.${'b'.repeat(16)}.${'c'.repeat(40)}.${'d'.repeat(22)}`,
      '100 KB token, validly signed': big,
    };

    // The control: the real thing is accepted everywhere.
    expect(await handshake(valid, 'auth')).toBe('ACCEPTED');
    expect(await handshake(valid, 'header')).toBe('ACCEPTED');
    expect(await rpcs(valid)).toEqual(['status 7', 'status 7', 'ACCEPTED']); // PERMISSION_DENIED ×2: authenticated, not allowed

    const outcomes: Record<string, string[]> = {};
    for (const [name, token] of Object.entries(corpus)) {
      outcomes[name] = [await handshake(token, 'auth'), await handshake(token, 'header'), ...(await rpcs(token))];
    }
    const accepted = Object.entries(outcomes).filter(([, results]) => results.includes('ACCEPTED'));
    expect(accepted).toEqual([]);
    for (const [name, results] of Object.entries(outcomes)) {
      if (name.startsWith('100 KB')) continue;
      expect(results, name).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    }
    // No socket stayed behind from any of it.
    expect(sample(await scrape(app.server.httpUrl), 'messaging_connected_sockets')).toBe(0);

    const attempts = Object.keys(corpus).length * 5;
    report('forged tokens (RS256 configured)', {
      tokens: Object.keys(corpus).length,
      attempts,
      accepted: accepted.length,
      unauthenticated: Object.values(outcomes).flat().filter((result) => result === 'UNAUTHENTICATED').length,
      '100kb_token': outcomes['100 KB token, validly signed']!.join('|'),
    });
  });
});
