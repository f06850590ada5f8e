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
  });

  it.each([
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['GRPC_PORT', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'not a url'],
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
  ])('stops on a bad %s (%s) and names it', (variable, value) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain(variable);
  });

  it('has no default key and no demo page in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' }).join()).toContain('JWT_SECRET');
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET });
    expect(config.demoUi).toBe(false);
    expect(config.cors).toEqual({ kind: 'list', origins: [] });
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, DEMO_UI: 'true' }).demoUi).toBe(true);
  });

  it('refuses two keys at once', () => {
    expect(problemsOf({ JWT_SECRET: SECRET, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----' }).join()).toContain('JWT_SECRET');
  });

  it('reads the origin allow-list exactly', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example ' }).cors).toEqual({
      kind: 'list',
      origins: ['https://a.example', 'https://b.example'],
    });
  });
});
