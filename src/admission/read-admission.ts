import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { Actor } from '../contract/actor.js';
import { AppError } from '../contract/app-error.js';
import { RateLimiter } from './rate-limiter.js';
import { Semaphore } from './semaphore.js';

/**
 * Reads waiting for a connection, per connection they may use: beyond that a read is refused at
 * once. A history page takes a few milliseconds (docs/performance.md), so the last of 50 waits
 * about as long as the 200 ms a page may take at P95 (CONTRACT §4.1); longer queues would only
 * answer later than a client would still want the page.
 */
const WAITING_READS_PER_CONNECTION = 50;

/** Connections of a pool of `poolSize` that history and list reads may hold at once. */
export function readConnections(poolSize: number): number {
  return Math.max(1, Math.floor(poolSize / 2));
}

/**
 * Admission of history and conversation-list reads, both transports (CONTRACT §3.4): one token
 * bucket per user (RATE_LIMIT_READS_PER_SECOND, burst twice that), and at most half the pool's
 * connections running reads at once, so that sends, receipts and catch-up always find a connection
 * however many users read (docs/operations.md, "Fairness"). Both are per instance, as the pool is.
 */
@Injectable()
export class ReadAdmission {
  private readonly limiter: RateLimiter;
  private readonly connections: Semaphore;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.limiter = new RateLimiter(config.rateLimitReadsPerSecond, config.rateLimitReadsPerSecond * 2);
    const connections = readConnections(config.databasePoolSize);
    this.connections = new Semaphore(connections, connections * WAITING_READS_PER_CONNECTION);
  }

  /** Takes one of the user's read tokens; RESOURCE_EXHAUSTED when the user reads too fast. */
  admit(actor: Actor): void {
    if (!this.limiter.tryTake(actor.userId)) throw new AppError('RESOURCE_EXHAUSTED', 'reading too fast; slow down');
  }

  /** Runs a read query on one of the read connections; RESOURCE_EXHAUSTED when too many wait for one. */
  async query<T>(read: () => Promise<T>): Promise<T> {
    const acquiring = this.connections.tryAcquire();
    if (!acquiring) throw new AppError('RESOURCE_EXHAUSTED', 'too many reads in progress; retry');
    const release = await acquiring;
    try {
      return await read();
    } finally {
      release();
    }
  }
}
