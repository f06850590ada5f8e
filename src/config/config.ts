import { environmentSchema, type Environment } from './config.schema.js';

/** Where a value came from matters for production: no development defaults may leak into it. */
export type CorsPolicy = { kind: 'any' } | { kind: 'list'; origins: string[] };

export interface AppConfig {
  env: Environment['NODE_ENV'];
  port: number;
  grpcPort: number;
  host: string;
  databaseUrl?: string;
  databasePoolSize: number;
  /** A streaming replica of databaseUrl for history and lists (CONTRACT §4.2); its pool has databasePoolSize connections too. */
  databaseReadUrl?: string;
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_URLS), instead of redisUrl: sharded pub/sub, cache in the cluster. */
  redisClusterUrls?: string[];
  socketAdapter: Environment['SOCKET_ADAPTER'];
  connectionsGrpcUrl?: string;
  jwt: { secret?: string; publicKey?: string; issuer?: string; audience?: string };
  connectionsCacheTtlMs: number;
  connectionsNegativeCacheTtlMs: number;
  connectionsTimeoutMs: number;
  typingTimeoutMs: number;
  messageMaxLength: number;
  rateLimitMessagesPerSecond: number;
  /** getMessageHistory and listConversations together, both transports (burst twice that). */
  rateLimitReadsPerSecond: number;
  /** startConversation and CreateConversation (burst twice that). */
  rateLimitConversationsPerMinute: number;
  cors: CorsPolicy;
  dataDir: string;
  maxSocketsPerUser: number;
  /** After SIGTERM, how long readiness says 503 while everything is still served (main.ts). */
  shutdownGraceMs: number;
  /** Socket.IO pings every socket this often, and drops one that has not answered within the timeout. */
  socketPingIntervalMs: number;
  socketPingTimeoutMs: number;
  logLevel: Environment['LOG_LEVEL'];
  demoUi: boolean;
  /** NATS URL of the platform events (CONTRACT §8); unset: no events are recorded or published. */
  eventBusUrl?: string;
  /** Durable JetStream consumer of connections.v1.connection.removed. */
  eventBusConsumer: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment once; every problem is reported with its variable name. */
export function loadConfig(source: NodeJS.ProcessEnv): AppConfig {
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  const problems: string[] = [];
  if (env.JWT_SECRET && env.JWT_PUBLIC_KEY) problems.push('JWT_SECRET and JWT_PUBLIC_KEY: set only one of them');
  // The embedded PostgreSQL has no replicas: a read URL beside it would be some other database.
  if (env.DATABASE_READ_URL && !env.DATABASE_URL) problems.push('DATABASE_READ_URL: needs DATABASE_URL (a replica of the embedded PostgreSQL cannot exist)');
  if (env.REDIS_URL && env.REDIS_CLUSTER_URLS) problems.push('REDIS_URL and REDIS_CLUSTER_URLS: set only one of them (one Redis, or a Redis Cluster)');
  if (env.REDIS_CLUSTER_URLS && present.SOCKET_ADAPTER === 'redis-streams') {
    problems.push('SOCKET_ADAPTER: redis-streams needs REDIS_URL; on a Redis Cluster (REDIS_CLUSTER_URLS) the Socket.IO adapter is sharded pub/sub');
  }
  if (production) {
    problems.push(...missingInProduction({ databaseUrl: env.DATABASE_URL, connectionsGrpcUrl: env.CONNECTIONS_GRPC_URL, jwt: { secret: env.JWT_SECRET, publicKey: env.JWT_PUBLIC_KEY } }));
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: env.NODE_ENV,
    port: env.PORT,
    grpcPort: env.GRPC_PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    databaseReadUrl: env.DATABASE_READ_URL,
    redisUrl: env.REDIS_URL,
    redisClusterUrls: env.REDIS_CLUSTER_URLS,
    socketAdapter: env.SOCKET_ADAPTER,
    connectionsGrpcUrl: env.CONNECTIONS_GRPC_URL,
    jwt: { secret: env.JWT_SECRET, publicKey: env.JWT_PUBLIC_KEY, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE },
    connectionsCacheTtlMs: env.CONNECTIONS_CACHE_TTL_SECONDS * 1000,
    connectionsNegativeCacheTtlMs: env.CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS * 1000,
    connectionsTimeoutMs: env.CONNECTIONS_TIMEOUT_MS,
    typingTimeoutMs: env.TYPING_TIMEOUT_MS,
    messageMaxLength: env.MESSAGE_MAX_LENGTH,
    rateLimitMessagesPerSecond: env.RATE_LIMIT_MESSAGES_PER_SECOND,
    rateLimitReadsPerSecond: env.RATE_LIMIT_READS_PER_SECOND,
    rateLimitConversationsPerMinute: env.RATE_LIMIT_CONVERSATIONS_PER_MINUTE,
    cors: corsPolicy(env.CORS_ORIGINS, production),
    dataDir: env.DATA_DIR,
    maxSocketsPerUser: env.MAX_SOCKETS_PER_USER,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    socketPingIntervalMs: env.SOCKET_PING_INTERVAL_MS,
    socketPingTimeoutMs: env.SOCKET_PING_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
    demoUi: env.DEMO_UI ? env.DEMO_UI === 'true' : !production,
    eventBusUrl: env.EVENT_BUS_URL,
    eventBusConsumer: env.EVENT_BUS_CONSUMER,
  };
}

/**
 * CONTRACT §1.2: production has no embedded fallbacks. An unset DATABASE_URL would put the messages
 * in a PostgreSQL inside the container (lost with it), an unset CONNECTIONS_GRPC_URL would authorize
 * against the demo graph, and a missing key would sign with a generated one. Each missing variable
 * is named, all at once, so that one failed rollout shows everything to fix.
 */
export function missingInProduction(config: Pick<AppConfig, 'databaseUrl' | 'connectionsGrpcUrl' | 'jwt'>): string[] {
  const missing: string[] = [];
  if (!config.databaseUrl) missing.push('DATABASE_URL: required when NODE_ENV=production (no embedded PostgreSQL in production)');
  if (!config.connectionsGrpcUrl) {
    missing.push('CONNECTIONS_GRPC_URL: required when NODE_ENV=production (no embedded development Connections service in production)');
  }
  if (!config.jwt.secret && !config.jwt.publicKey) missing.push('JWT_SECRET or JWT_PUBLIC_KEY: required when NODE_ENV=production');
  return missing;
}

function corsPolicy(raw: string | undefined, production: boolean): CorsPolicy {
  if (raw === undefined) return production ? { kind: 'list', origins: [] } : { kind: 'any' };
  if (raw.trim() === '*') return { kind: 'any' };
  return { kind: 'list', origins: raw.split(',').map((origin) => origin.trim()).filter(Boolean) };
}

/** Whether the instances share a Redis (one, or a cluster): the adapter and the cache then live there. */
export function sharesRedis(config: Pick<AppConfig, 'redisUrl' | 'redisClusterUrls'>): boolean {
  return config.redisUrl !== undefined || config.redisClusterUrls !== undefined;
}
