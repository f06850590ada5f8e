import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { JOSEError } from 'jose/errors';
import { AppError } from '../contract/app-error.js';
import { isWellFormed } from '@platform/messaging-client/contract';

export interface JwtSettings {
  secret?: string;
  publicKey?: string;
  issuer?: string;
  audience?: string;
}

export interface VerifiedToken {
  userId: string;
  /** Epoch milliseconds of `exp`. */
  expiresAt: number;
}

/** Larger tokens are refused before any parsing: real ones are a few hundred bytes. */
const MAX_TOKEN_LENGTH = 8192;
const CLOCK_SKEW_SECONDS = 30;
/** Tokens verified recently, by their exact text: most calls carry a token seen before. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * Verifies user tokens (CONTRACT §2): one configured algorithm only (HS256 with a secret, RS256 or
 * ES256 with a public key; `none` and every other algorithm refused), `exp` required, 30 s of skew,
 * `iss`/`aud` checked when configured, and `sub` a non-empty, well-formed id of at most 128 characters.
 */
export class JwtVerifier {
  private readonly key: KeyObject | Promise<webcrypto.CryptoKey>;
  private readonly algorithms: string[];
  /**
   * A token's signature and claims never change, so one verification holds until `exp` (plus the
   * skew): a gRPC caller or reconnecting socket with the same token skips the WebCrypto round,
   * about a third of a history call's CPU (docs/performance.md). Bounded; the oldest goes first.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(private readonly settings: JwtSettings) {
    if (settings.publicKey) {
      const key = createPublicKey(settings.publicKey);
      const type = key.asymmetricKeyType;
      if (type === 'rsa') this.algorithms = ['RS256'];
      else if (type === 'ec') this.algorithms = ['ES256'];
      else throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${type}; use an RSA or P-256 EC key`);
      this.key = key;
    } else if (settings.secret) {
      // Imported once: given the secret as bytes or a KeyObject, jose imports an HMAC key again on
      // every verification, about 8 % of a gRPC call (docs/performance.md).
      this.key = webcrypto.subtle.importKey('raw', Buffer.from(settings.secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      this.algorithms = ['HS256'];
    } else {
      throw new Error('JWT_SECRET or JWT_PUBLIC_KEY must be set');
    }
  }

  async verify(token: unknown): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw unauthenticated();
    }
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() <= known.expiresAt + CLOCK_SKEW_SECONDS * 1000) return known;
      this.verified.delete(token);
    }
    const fresh = await this.verifyOnce(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, fresh);
    return fresh;
  }

  private async verifyOnce(token: string): Promise<VerifiedToken> {
    // Outside the try: a key that cannot be imported is the service's fault, not the caller's, and
    // must surface as such instead of refusing every token as UNAUTHENTICATED without a word.
    const key = await this.key;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: this.algorithms,
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp', 'sub'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
      });
      const userId = payload.sub;
      // A user id is stored with what the user does: U+0000, which PostgreSQL text cannot hold, is
      // refused too, and so is a lone surrogate, which would be stored as U+FFFD: another user's id.
      if (typeof userId !== 'string' || userId.length === 0 || userId.length > 128 || userId.includes('\u0000') || !isWellFormed(userId) || typeof payload.exp !== 'number') {
        throw unauthenticated();
      }
      return { userId, expiresAt: payload.exp * 1000 };
    } catch (error) {
      // Which check failed is not the caller's business (nor a forger's). Anything but a token
      // failure (a bug, a WebCrypto fault) is not the caller's fault and goes on as it is.
      if (error instanceof JOSEError || error instanceof AppError) throw unauthenticated();
      throw error;
    }
  }
}

function unauthenticated(): AppError {
  return new AppError('UNAUTHENTICATED', 'missing, invalid or expired token');
}

/** Reads a bearer token from an `Authorization` header value. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
