import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z.string().trim().min(1).optional();
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port');
const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL with scheme ${protocols.join(' or ')}`);

/** The environment variables of CONTRACT §1, with their defaults. Unknown variables are ignored. */
export const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  GRPC_PORT: port.default(50051),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_SIZE: positiveInt.max(200).default(10),
  DATABASE_READ_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  // Seed nodes of a Redis Cluster: at least one reachable seed is enough, the client discovers the rest.
  REDIS_CLUSTER_URLS: z
    .string()
    .transform((value) => value.split(',').map((seed) => seed.trim()).filter(Boolean))
    .pipe(z.array(url(['redis:', 'rediss:'])).min(1, 'must list at least one redis://host:port'))
    .optional(),
  SOCKET_ADAPTER: z.enum(['redis', 'redis-streams']).default('redis'),
  CONNECTIONS_GRPC_URL: hostPort.optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }).optional(),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  CONNECTIONS_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).default(30),
  CONNECTIONS_NEGATIVE_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).default(5),
  // Above 1500 ms the breaker's backstop would pass CONTRACT §5's "UNAVAILABLE within 2 s".
  CONNECTIONS_TIMEOUT_MS: positiveInt.max(1500, 'must be at most 1500 (an unanswered check must fail within 2 s)').default(500),
  TYPING_TIMEOUT_MS: positiveInt.max(600_000).default(6000),
  MESSAGE_MAX_LENGTH: positiveInt.max(60_000).default(4000),
  RATE_LIMIT_MESSAGES_PER_SECOND: positiveInt.default(10),
  RATE_LIMIT_READS_PER_SECOND: positiveInt.default(20),
  RATE_LIMIT_CONVERSATIONS_PER_MINUTE: positiveInt.default(30),
  CORS_ORIGINS: z.string().optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  MAX_SOCKETS_PER_USER: positiveInt.default(10),
  // Shutdown keeps serving this long after readiness turns 503 (docs/operations.md); within the 10 s of CONTRACT §7.
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(5000).default(500),
  // Socket.IO heartbeat: a client that answers no ping for interval + timeout is dropped (its typing
  // indicator with it). Socket.IO's own defaults.
  SOCKET_PING_INTERVAL_MS: positiveInt.min(100).max(300_000).default(25_000),
  SOCKET_PING_TIMEOUT_MS: positiveInt.min(100).max(300_000).default(20_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DEMO_UI: z.enum(['true', 'false']).optional(),
  EVENT_BUS_URL: url(['nats:', 'tls:']).optional(),
  // A JetStream consumer name: no whitespace, dots, '*', '>' or path separators.
  EVENT_BUS_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1 to 64 letters, digits, '-' or '_' (a JetStream durable consumer name)")
    .default('messaging'),
});

export type Environment = z.infer<typeof environmentSchema>;
