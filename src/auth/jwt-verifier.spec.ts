import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { signUserToken } from './jwt-signer.js';
import { JwtVerifier } from './jwt-verifier.js';

const SECRET = 'a test secret of reasonable length';

const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );

describe('JwtVerifier', () => {
  const verifier = new JwtVerifier({ secret: SECRET, issuer: 'platform', audience: 'messaging' });
  const sign = (userId: string, options: { ttlSeconds?: number; issuer?: string; audience?: string } = {}) =>
    signUserToken(SECRET, userId, { issuer: 'platform', audience: 'messaging', ...options });

  it('accepts a token of the configured key, issuer and audience, and gives its subject', async () => {
    const token = await sign('alice');
    const verified = await verifier.verify(token);
    expect(verified.userId).toBe('alice');
    expect(verified.expiresAt).toBeGreaterThan(Date.now());
  });

  it('refuses another key, issuer or audience, an expired token and alg none, all as UNAUTHENTICATED', async () => {
    const tokens = [
      await signUserToken('another secret entirely', 'alice', { issuer: 'platform', audience: 'messaging' }),
      await sign('alice', { issuer: 'elsewhere' }),
      await sign('alice', { audience: 'billing' }),
      await sign('alice', { ttlSeconds: -120 }),
      new UnsecuredJWT({}).setSubject('alice').setIssuer('platform').setAudience('messaging').setExpirationTime('1h').encode(),
    ];
    for (const token of tokens) expect(await codeOf(verifier.verify(token)), token).toBe('UNAUTHENTICATED');
  });

  it('refuses a subject that could not be stored as the same user: empty, too long, U+0000 or a lone surrogate', async () => {
    const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
    const withSubject = (sub: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer('platform').setAudience('messaging').setExpirationTime('1h').sign(key);
    for (const sub of ['', 'x'.repeat(129), 'ali\u0000ce', 'ali\ud800ce']) {
      expect(await codeOf(verifier.verify(await withSubject(sub))), JSON.stringify(sub)).toBe('UNAUTHENTICATED');
    }
    expect((await verifier.verify(await withSubject('x'.repeat(128)))).userId).toHaveLength(128);
  });

  it('refuses what is not a token before parsing it', async () => {
    for (const token of [undefined, 42, '', 'x'.repeat(8193), 'not.a.jwt']) {
      expect(await codeOf(verifier.verify(token)), String(token).slice(0, 20)).toBe('UNAUTHENTICATED');
    }
  });

  it('accepts RS256 with a public key and refuses an HS256 token signed with that public key as secret', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = new JwtVerifier({ publicKey: pem });
    const good = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('bob').setExpirationTime('1h').sign(privateKey);
    expect((await rsa.verify(good)).userId).toBe('bob');
    // The classic algorithm confusion: the public key's PEM text used as an HMAC secret.
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setExpirationTime('1h').sign(createSecretKey(Buffer.from(pem)));
    expect(await codeOf(rsa.verify(confused))).toBe('UNAUTHENTICATED');
  });

  it('refuses a token once it has expired, even after it was verified and cached', async () => {
    const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
    // Expired 31 s ago: beyond the 30 s of skew, so refused however it got into the cache.
    const exp = Math.floor(Date.now() / 1000) - 31;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('carol').setIssuer('platform').setAudience('messaging').setExpirationTime(exp).sign(key);
    expect(await codeOf(verifier.verify(token))).toBe('UNAUTHENTICATED');
    const fresh = await sign('carol', { ttlSeconds: 60 });
    expect((await verifier.verify(fresh)).userId).toBe('carol');
    expect((await verifier.verify(fresh)).userId).toBe('carol');
  });
});
