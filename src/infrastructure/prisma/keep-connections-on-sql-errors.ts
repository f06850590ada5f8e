import pg from 'pg';

/**
 * Makes the pool's promise `query` keep its connection when PostgreSQL answers with an error.
 * `pg.Pool#query` releases the client with the error, which closes the connection: every failed
 * statement then costs a new connection (20–40 ms and a backend start), and a retried send fails
 * its insert on the unique clientMessageId by design, so a burst of retries became a burst of
 * reconnections, seconds per retry under load (docs/reliability.md, "Lost acks"). An error from the
 * server leaves the connection usable; anything else (a broken socket, a timeout) still discards it.
 * Prisma's driver adapter uses the promise form; callbacks and submittables keep pg's own path.
 */
export function keepConnectionsOnSqlErrors(pool: pg.Pool): pg.Pool {
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const query = (...args: unknown[]): unknown => {
    const [config, values] = args;
    const submittable = typeof (config as { submit?: unknown } | undefined)?.submit === 'function';
    if (submittable || args.some((arg) => typeof arg === 'function')) return original(...args);
    return (async () => {
      const client = await pool.connect();
      // While checked out, a connection that breaks emits 'error' on its client (the pool listens only
      // to idle ones): heard here, as pg.Pool#query does, so that it never goes unhandled.
      let broken: Error | undefined;
      const onError = (error: Error) => (broken ??= error);
      client.on('error', onError);
      try {
        const result = await client.query(config as pg.QueryConfig, values as unknown[] | undefined);
        client.off('error', onError);
        client.release(broken);
        return result;
      } catch (error) {
        client.off('error', onError);
        client.release(broken ?? (refusedStatement(error) ? undefined : (error as Error)));
        throw error;
      }
    })();
  };
  pool.query = query as unknown as pg.Pool['query'];
  return pool;
}

/** An error about the statement, on a connection that goes on: not FATAL or PANIC (the server ends the session then). */
function refusedStatement(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC';
}
