import type { Cluster, Redis } from 'ioredis';
import type { TtlCache } from './ttl-cache.js';

/**
 * One key per entry and single-key commands only, so that on a Redis Cluster each entry lives in its
 * own slot and nothing needs a hash tag (no command here spans two keys).
 *
 * A read fails after `deadlineMs` whatever the client does meanwhile: one Redis's command timeout
 * already bounds it, but a cluster client retries a command whose master is gone (redirections,
 * failover and cluster-down delays) for seconds, and a lookup must not hold a send that long while
 * a master fails over (docs/operations.md, "Redis Cluster").
 */
export class RedisTtlCache implements TtlCache {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly deadlineMs = Number.POSITIVE_INFINITY,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const reply = this.redis.get(this.prefix + key);
    if (!Number.isFinite(this.deadlineMs)) return (await reply) ?? undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.deadlineMs} ms`)), this.deadlineMs);
    });
    try {
      return (await Promise.race([reply, deadline])) ?? undefined;
    } finally {
      clearTimeout(timer);
      // The command may still settle after the deadline: nothing waits for it then.
      reply.catch(() => undefined);
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    await this.redis.set(this.prefix + key, value, 'PX', ttlMs);
  }
}
