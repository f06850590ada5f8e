import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';

/** Issues HS256 user tokens with the configured secret: for the demo links and `npm run token`. */
export async function signUserToken(
  secret: string,
  userId: string,
  options: { ttlSeconds?: number; issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSeconds ?? 24 * 3600}s`);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(createSecretKey(Buffer.from(secret, 'utf8')));
}
