import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.js';
import { PrismaClient } from '../../generated/prisma/client.js';
import { DependencyStates } from '../observability/dependency-state.js';

/** The database's name in dependency-state log lines (see DependencyStates). */
export const DATABASE_DEPENDENCY = 'postgresql';

/**
 * The Prisma client on a pg pool we own, so that readiness checks and shutdown can reach the pool.
 * Only repositories use it (the lint enforces that).
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  readonly pool: pg.Pool;

  constructor(@Inject(APP_CONFIG) config: AppConfig, states: DependencyStates) {
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: config.databasePoolSize,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 30_000,
      // @prisma/adapter-pg writes Dates without an offset and relabels timestamptz results as UTC
      // (prisma/orm#26786, #28629): both are only right in a UTC session, whatever the server's
      // default zone (an embedded PostgreSQL takes the host's).
      options: '-c TimeZone=UTC',
    });
    // A dropped idle connection is reported on the pool (without a listener it would crash the
    // process): logged once per change of state, and a new connection counts as recovery. Failures
    // to connect reach the callers, and the readiness monitor's probe, which share this state.
    const state = states.of(DATABASE_DEPENDENCY);
    pool.on('error', (error) => state.failed(error));
    pool.on('connect', () => state.recovered());
    // 'minimal': a failed query's message without the code frame Prisma otherwise builds from the
    // call stack and the caller's source file; logs take one line, and retried sends fail inserts by design.
    super({ adapter: new PrismaPg(pool), errorFormat: 'minimal' });
    this.pool = pool;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  // After the transports have closed, so that work still in flight can finish its queries.
  async onApplicationShutdown(): Promise<void> {
    await this.$disconnect();
    await this.pool.end().catch(() => undefined);
  }
}
