import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { traced } from '../observability/tracing.js';
import { PrismaService } from './prisma.service.js';

/** A statement of the hot path: a fixed text, prepared once per connection under its name. */
export interface HotStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * The driver underneath Prisma, for the few statements on the send, receipt and read paths
 * (docs/performance.md, "Where the time goes"): named prepared statements (no parse per call), rows
 * as arrays decoded by the caller's column list, and no Prisma result decoding, which cost ~0.3 ms of
 * CPU per page of 50. Everything else goes through Prisma.
 *
 * A statement PostgreSQL refuses (a unique violation, say) leaves its connection in the pool; only
 * a broken connection or a FATAL error discards it (pg.Pool#query would close the connection for
 * either, and a retried send refuses its insert by design).
 */
@Injectable()
export class HotSql {
  private readonly pool: pg.Pool;

  constructor(prisma: PrismaService) {
    this.pool = prisma.pool;
  }

  rows(statement: HotStatement, values: unknown[]): Promise<unknown[][]> {
    return traced(`db ${statement.name}`, { 'db.system': 'postgresql', 'db.operation.name': statement.name }, () => this.run(statement, values));
  }

  private async run(statement: HotStatement, values: unknown[]): Promise<unknown[][]> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // While checked out, a connection that breaks emits 'error' on its client (the pool only listens
    // to idle ones).
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      const result = await client.query<unknown[]>({ name: statement.name, text: statement.text, values, rowMode: 'array' });
      return result.rows;
    } catch (error) {
      if (!refusedStatement(error)) broken ??= error as Error;
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

/** An error about the statement, on a connection that goes on: not FATAL or PANIC (the server ends the session then). */
function refusedStatement(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC';
}

/** A named statement; its text's whitespace is folded to one line (so comments in it are block comments). */
export function statement(name: string, text: string): HotStatement {
  return { name, text: text.replace(/\s+/g, ' ').trim() };
}

/** True when PostgreSQL refused a statement of HotSql on the named unique index (23505). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === constraint;
}
