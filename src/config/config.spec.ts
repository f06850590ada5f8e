import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = 'x'.repeat(32);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('gives the contract defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      grpcPort: 50051,
      connectionsCacheTtlMs: 30_000,
      connectionsNegativeCacheTtlMs: 5000,
      connectionsTimeoutMs: 500,
      typingTimeoutMs: 6000,
      messageMaxLength: 4000,
      rateLimitMessagesPerSecond: 10,
      rateLimitReadsPerSecond: 20,
      rateLimitConversationsPerMinute: 30,
      dataDir: './.data',
      maxSocketsPerUser: 10,
      socketPingIntervalMs: 25_000,
      socketPingTimeoutMs: 20_000,
      logLevel: 'info',
      demoUi: true,
      cors: { kind: 'any' },
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.jwt.secret).toBeUndefined();
    expect(config.eventBusUrl).toBeUndefined();
    expect(config.eventBusConsumer).toBe('messaging');
  });

  it('reads the event bus settings (CONTRACT §8)', () => {
    const config = loadConfig({ EVENT_BUS_URL: 'nats://127.0.0.1:4222', EVENT_BUS_CONSUMER: 'messaging-blue_2' });
    expect(config).toMatchObject({ eventBusUrl: 'nats://127.0.0.1:4222', eventBusConsumer: 'messaging-blue_2' });
  });

  it.each([
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['GRPC_PORT', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_READ_URL', 'replica:5432'],
    ['REDIS_URL', 'not a url'],
    ['REDIS_CLUSTER_URLS', 'redis://a:7000,http://b:7001'],
    ['REDIS_CLUSTER_URLS', ' , '],
    ['CONNECTIONS_GRPC_URL', 'http://host'],
    ['JWT_SECRET', 'short'],
    ['JWT_PUBLIC_KEY', 'not a pem'],
    ['CONNECTIONS_TIMEOUT_MS', '0'],
    ['CONNECTIONS_TIMEOUT_MS', '5000'],
    ['TYPING_TIMEOUT_MS', '1.5'],
    ['MESSAGE_MAX_LENGTH', 'many'],
    ['RATE_LIMIT_MESSAGES_PER_SECOND', '0'],
    ['RATE_LIMIT_READS_PER_SECOND', '0'],
    ['RATE_LIMIT_CONVERSATIONS_PER_MINUTE', 'many'],
    ['MAX_SOCKETS_PER_USER', '-3'],
    ['SOCKET_PING_INTERVAL_MS', '10'],
    ['SOCKET_PING_TIMEOUT_MS', 'soon'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['EVENT_BUS_URL', 'http://nats:4222'],
    ['EVENT_BUS_URL', 'nats host'],
    ['EVENT_BUS_CONSUMER', 'has.dots'],
    ['EVENT_BUS_CONSUMER', 'x'.repeat(65)],
  ])('stops on a bad %s (%s) and names it', (variable, value) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(variable);
  });

  const PRODUCTION: Record<string, string> = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/messaging', CONNECTIONS_GRPC_URL: 'connections:50051', JWT_SECRET: SECRET };

  it('has no default key and no demo page in production', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.demoUi).toBe(false);
    expect(config.cors).toEqual({ kind: 'list', origins: [] });
    expect(loadConfig({ ...PRODUCTION, DEMO_UI: 'true' }).demoUi).toBe(true);
  });

  it('names every missing variable in production, all at once (CONTRACT §1.2: no embedded fallbacks)', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^DATABASE_URL: required/);
    expect(problems[1]).toMatch(/^CONNECTIONS_GRPC_URL: required/);
    expect(problems[2]).toMatch(/^JWT_SECRET or JWT_PUBLIC_KEY: required/);
    for (const variable of ['DATABASE_URL', 'CONNECTIONS_GRPC_URL', 'JWT_SECRET']) {
      const { [variable]: _left, ...rest } = PRODUCTION;
      expect(problemsOf(rest)).toEqual([expect.stringMatching(new RegExp(`^${variable}`))]);
    }
    const publicKey = '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----';
    const { JWT_SECRET: _secret, ...withoutSecret } = PRODUCTION;
    expect(problemsOf({ ...withoutSecret, JWT_PUBLIC_KEY: publicKey })).toEqual([]);
    // REDIS_URL and EVENT_BUS_URL stay optional: a single instance without Redis is a valid deployment.
    expect(loadConfig(PRODUCTION).redisUrl).toBeUndefined();
  });

  it('keeps the embedded default outside production', () => {
    for (const NODE_ENV of ['development', 'test']) expect(problemsOf({ NODE_ENV })).toEqual([]);
  });

  it('takes a read replica only beside DATABASE_URL (the embedded PostgreSQL has none)', () => {
    expect(problemsOf({ DATABASE_READ_URL: 'postgresql://replica/messaging' }).join()).toContain('DATABASE_READ_URL: needs DATABASE_URL');
    const config = loadConfig({ DATABASE_URL: 'postgresql://primary/messaging', DATABASE_READ_URL: 'postgresql://replica/messaging' });
    expect(config.databaseReadUrl).toBe('postgresql://replica/messaging');
    expect(loadConfig({}).databaseReadUrl).toBeUndefined();
  });

  it('refuses two keys at once', () => {
    expect(problemsOf({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----' }).join()).toContain('JWT_SECRET');
  });

  it('refuses one Redis and a Redis Cluster at once, and the streams adapter on a cluster', () => {
    const cluster = 'redis://10.0.0.1:7000, redis://10.0.0.2:7000';
    expect(problemsOf({ REDIS_URL: 'redis://one:6379', REDIS_CLUSTER_URLS: cluster }).join()).toMatch(/^REDIS_URL and REDIS_CLUSTER_URLS/);
    expect(problemsOf({ REDIS_CLUSTER_URLS: cluster, SOCKET_ADAPTER: 'redis-streams' }).join()).toMatch(/^SOCKET_ADAPTER/);
    expect(loadConfig({ REDIS_CLUSTER_URLS: cluster }).redisClusterUrls).toEqual(['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000']);
  });

  it('reads the origin allow-list exactly', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example ' }).cors).toEqual({
      kind: 'list',
      origins: ['https://a.example', 'https://b.example'],
    });
  });
});
