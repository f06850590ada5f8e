import { Inject, Injectable } from '@nestjs/common';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { PrismaService } from '../infrastructure/prisma/prisma.service.js';
import { REDIS, type OptionalRedis } from '../infrastructure/redis/redis.module.js';

export type CheckResult = 'up' | 'down' | 'not configured';
export interface Readiness {
  ready: boolean;
  shuttingDown: boolean;
  checks: { database: CheckResult; redis: CheckResult };
}

const CHECK_TIMEOUT_MS = 1000;

/** CONTRACT §6: ready when the database (and Redis, where configured) answer, and not draining. */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: OptionalRedis,
    private readonly lifecycle: Lifecycle,
  ) {}

  async check(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      probe(() => this.prisma.ping()),
      this.redis ? probe(() => this.redis!.ping()) : Promise.resolve<CheckResult>('not configured'),
    ]);
    const shuttingDown = this.lifecycle.shuttingDown;
    return { ready: !shuttingDown && database === 'up' && redis !== 'down', shuttingDown, checks: { database, redis } };
  }
}

async function probe(check: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS)));
  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
