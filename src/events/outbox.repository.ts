import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { HotSql, statement } from '../infrastructure/prisma/hot-sql.js';
import { RelaySession } from './relay-session.js';

const BACKLOG = statement(
  'outbox_backlog',
  `SELECT COALESCE(sum(events), 0)::int, COALESCE(EXTRACT(EPOCH FROM (clock_timestamp() - min(created_at))), 0)::float8 FROM outbox_event`,
);

@Injectable()
export class OutboxRepository {
  constructor(
    private readonly sql: HotSql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A new session for the relay (see RelaySession). */
  openRelaySession(): Promise<RelaySession> {
    return RelaySession.open(this.databaseUrl);
  }

  /** The database the relay's sessions connect to. */
  get databaseUrl(): string {
    if (!this.config.databaseUrl) throw new Error('the relay needs the resolved database URL');
    return this.config.databaseUrl;
  }

  /** Events not published yet, and the age in seconds of the oldest (0 when there is none). */
  async backlog(): Promise<{ events: number; oldestAgeSeconds: number }> {
    const [row] = await this.sql.rows(BACKLOG, []);
    const [events, oldestAgeSeconds] = (row ?? [0, 0]) as [number, number];
    return { events, oldestAgeSeconds };
  }
}
