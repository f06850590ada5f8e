import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { DependencyStates, type DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { DATABASE_DEPENDENCY, PrismaService } from '../infrastructure/prisma/prisma.service.js';
import { REDIS, redisAnswers, type OptionalRedis } from '../infrastructure/redis/redis.module.js';

export type CheckResult = 'up' | 'down' | 'not configured';
export interface Readiness {
  ready: boolean;
  shuttingDown: boolean;
  checks: { database: CheckResult; redis: CheckResult };
}

const CHECK_TIMEOUT_MS = 1000;
/** How often the dependencies are probed in the background, for gRPC health and the failure log. */
const MONITOR_INTERVAL_MS = 1000;
const REDIS_START_WAIT_MS = 2000;

/**
 * CONTRACT §6: ready when the database (and Redis, where configured) answer, and not draining.
 * GET /health/ready probes on each request; besides, a probe every second keeps `dependenciesUp`
 * for the gRPC health service (whose Watch has no request to probe on), and reports a dependency
 * that stops answering to its state logger even when no one asks: a connection refused to
 * PostgreSQL, or a Redis that is connected but frozen, raise no event on their clients.
 */
@Injectable()
export class ReadinessService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private up = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly databaseState: DependencyStateLogger;
  private readonly redisState: DependencyStateLogger;

  constructor(
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: OptionalRedis,
    private readonly lifecycle: Lifecycle,
    states: DependencyStates,
    private readonly metrics: Metrics,
  ) {
    this.databaseState = states.of(DATABASE_DEPENDENCY);
    // Its own name: the cache connection's own errors (a refused password, say) are logged under
    // `redis (messaging-cache)` with another cause, and sharing one state would alternate between them.
    this.redisState = states.of('redis (readiness probe)');
  }

  get dependenciesUp(): boolean {
    return this.up;
  }

  async check(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      probe(() => this.prisma.ping(), this.databaseState),
      this.redis ? probe(() => redisAnswers(this.redis!), this.redisState) : Promise.resolve<CheckResult>('not configured'),
    ]);
    const shuttingDown = this.lifecycle.shuttingDown;
    return { ready: !shuttingDown && database === 'up' && redis !== 'down', shuttingDown, checks: { database, redis } };
  }

  // Before the gRPC server starts (Nest bootstraps modules in init()), so health starts out right.
  // A Redis client still connecting fails commands at once (no offline queue): given a moment
  // first, so that an ordinary start-up is not logged as an outage.
  async onApplicationBootstrap(): Promise<void> {
    if (this.redis && this.redis.status !== 'ready') await connectedOrTimeout(this.redis, REDIS_START_WAIT_MS);
    await this.monitor();
  }

  // Before the clients close (onApplicationShutdown): a probe on a closed client is not an outage.
  beforeApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async monitor(): Promise<void> {
    const { checks } = await this.check();
    this.up = checks.database === 'up' && checks.redis !== 'down';
    this.metrics.dependencyUp.set({ dependency: 'database' }, checks.database === 'up' ? 1 : 0);
    if (checks.redis !== 'not configured') this.metrics.dependencyUp.set({ dependency: 'redis' }, checks.redis === 'up' ? 1 : 0);
    if (!this.stopped) this.timer = setTimeout(() => void this.monitor(), MONITOR_INTERVAL_MS);
  }
}

async function probe(check: () => Promise<unknown>, state: DependencyStateLogger): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)));
  try {
    await Promise.race([check(), timeout]);
    state.recovered();
    return 'up';
  } catch (error) {
    state.failed(error);
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

function connectedOrTimeout(redis: NonNullable<OptionalRedis>, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
