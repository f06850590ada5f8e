import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter as createPubSubAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig, CorsPolicy } from '../config/config.js';

/** CONTRACT §3: a larger frame closes that one socket. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Socket.IO server options of the contract, and the Redis adapter that makes rooms (and so every
 * broadcast) span all instances when REDIS_URL is set.
 */
export class MessagingIoAdapter extends IoAdapter {
  private readonly redisClients: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const server = super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: MAX_FRAME_BYTES,
      cors: this.config.cors.kind === 'any' ? { origin: true, credentials: true } : { origin: this.config.cors.origins, credentials: true },
      allowRequest: (request, callback) => callback(null, isAllowedOrigin(this.config.cors, request.headers.origin)),
    } as ServerOptions) as Server;
    if (this.config.redisUrl) server.adapter(this.redisAdapter(this.config.redisUrl));
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await Promise.all(this.redisClients.map((client) => client.quit().catch(() => client.disconnect())));
  }

  private redisAdapter(url: string) {
    const client = (name: string) => {
      const redis = new Redis(url, { connectionName: name, retryStrategy: (attempt) => Math.min(100 * attempt, 2000) });
      redis.on('error', () => undefined);
      this.redisClients.push(redis);
      return redis;
    };
    if (this.config.socketAdapter === 'redis-streams') return createStreamsAdapter(client('messaging-io-streams'));
    return createPubSubAdapter(client('messaging-io-pub'), client('messaging-io-sub'), { key: 'messaging.io' });
  }
}

/** Requests without an Origin header come from non-browser clients and are not subject to CORS. */
export function isAllowedOrigin(policy: CorsPolicy, origin: string | undefined): boolean {
  if (origin === undefined || policy.kind === 'any') return true;
  return policy.origins.includes(origin);
}
