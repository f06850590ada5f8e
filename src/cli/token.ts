import { loadOrCreateDevSecret } from '../auth/dev-secret.js';
import { signUserToken } from '../auth/jwt-signer.js';
import { ConfigError, loadConfig } from '../config/config.js';

/** `npm run token -- <userId> [ttlSeconds]`: prints a user token for the configured HS256 key. */
async function run(): Promise<void> {
  const [userId, ttl] = process.argv.slice(2);
  if (!userId || userId.length > 128) throw new Error('usage: npm run token -- <userId> [ttlSeconds]');
  const config = loadConfig(process.env);
  if (config.jwt.publicKey) throw new Error('JWT_PUBLIC_KEY is set: tokens come from the issuer that holds the private key');
  const secret = config.jwt.secret ?? (await loadOrCreateDevSecret(config.dataDir));
  const ttlSeconds = ttl ? Number.parseInt(ttl, 10) : undefined;
  if (ttlSeconds !== undefined && !(ttlSeconds > 0)) throw new Error('ttlSeconds must be a positive integer');
  console.log(await signUserToken(secret, userId, { ttlSeconds, issuer: config.jwt.issuer, audience: config.jwt.audience }));
}

run().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : (error as Error).message);
  process.exit(1);
});
