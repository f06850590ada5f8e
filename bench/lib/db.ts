import pg from 'pg';
import type * as Migrator from '../../src/infrastructure/prisma/migrator.js';
import { fromBuild } from './service.js';

export const HISTORY_CONVERSATION_ID = '0b0e0000-0000-4000-8000-000000000001';
export const HISTORY_USERS = ['bench-hist-a', 'bench-hist-b'] as const;
export const LIST_OWNER = 'bench-list-owner';
export const SEED = { historyMessages: 200_000, listConversations: 10_000, messagesPerListConversation: 80 };
export const SEED_TOTAL = SEED.historyMessages + SEED.listConversations * SEED.messagesPerListConversation;

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database (the service migrates it when it starts). */
export async function recreateDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  });
}

async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withClient(adminUrl, async (client) => ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0);
}

/** What the seeded history database holds, or null when it is missing or incomplete. */
export interface HistoryDatabaseCounts {
  rows: number;
  historyMessages: number;
  listConversations: number;
}

export interface HistoryDatabase extends HistoryDatabaseCounts {
  url: string;
  seeded: boolean;
  seedMs: number;
}

export async function inspectHistoryDatabase(url: string): Promise<HistoryDatabaseCounts | null> {
  try {
    return await withClient(url, async (client) => {
      const history = await client.query<{ last_seq: number; messages: number; max_seq: number }>(
        `SELECT c.last_seq, (SELECT count(*)::int FROM message m WHERE m.conversation_id = c.id) AS messages,
                (SELECT max(seq) FROM message m WHERE m.conversation_id = c.id) AS max_seq
         FROM conversation c WHERE c.id = $1::uuid`,
        [HISTORY_CONVERSATION_ID],
      );
      const list = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation WHERE user_a = $1 OR user_b = $1', [LIST_OWNER]);
      // Planner statistics are exact enough to count 1M rows without a scan.
      const total = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM message`);
      const row = history.rows[0];
      const ok =
        row && row.messages === SEED.historyMessages && row.last_seq === SEED.historyMessages && row.max_seq === SEED.historyMessages &&
        list.rows[0].n === SEED.listConversations && total.rows[0].n >= SEED_TOTAL;
      return ok ? { rows: total.rows[0].n, historyMessages: row.messages, listConversations: list.rows[0].n } : null;
    });
  } catch {
    return null;
  }
}

/**
 * The history database: seeded once (directly in SQL, in one transaction) and reused while its
 * counts check out. Seq is gap-free per conversation and conversation.last_seq matches.
 */
export async function ensureHistoryDatabase(adminUrl: string, name: string, log: (text: string) => void): Promise<HistoryDatabase> {
  const url = databaseUrl(adminUrl, name);
  if (await databaseExists(adminUrl, name)) {
    const found = await inspectHistoryDatabase(url);
    if (found) return { url, ...found, seeded: false, seedMs: 0 };
    log(`history database ${name} is incomplete; seeding it again`);
  }
  await recreateDatabase(adminUrl, name);
  const { migrate, defaultMigrationsDir } = await fromBuild<typeof Migrator>('infrastructure/prisma/migrator.js');
  await migrate(url, defaultMigrationsDir());
  log(`seeding ${name}: ${SEED_TOTAL.toLocaleString('en')} messages …`);
  const started = Date.now();
  await withClient(url, (client) => seed(client));
  const found = await inspectHistoryDatabase(url);
  if (!found) throw new Error('seeding finished but the counts do not check out');
  return { url, ...found, seeded: true, seedMs: Date.now() - started };
}

async function seed(client: pg.Client): Promise<void> {
  const base = "timestamptz '2025-01-01 00:00:00+00'";
  await client.query("SET synchronous_commit = off; SET maintenance_work_mem = '512MB'");
  await client.query('BEGIN');
  // One long conversation: seq 1..N, a message a minute, all delivered and read.
  await client.query(
    `INSERT INTO conversation (id, user_a, user_b, created_at, updated_at, last_seq)
     VALUES ($1::uuid, $2, $3, ${base}, ${base} + $4 * interval '1 minute', $4)`,
    [HISTORY_CONVERSATION_ID, HISTORY_USERS[0], HISTORY_USERS[1], SEED.historyMessages],
  );
  await client.query(
    `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
     SELECT gen_random_uuid(), $1::uuid, s,
            CASE WHEN s % 2 = 0 THEN $2 ELSE $3 END, CASE WHEN s % 2 = 0 THEN $3 ELSE $2 END,
            'Seeded message ' || s || ': ' || md5(s::text), t, t, t
     FROM generate_series(1, $4::int) s, LATERAL (SELECT ${base} + s * interval '1 minute' AS t) x`,
    [HISTORY_CONVERSATION_ID, HISTORY_USERS[0], HISTORY_USERS[1], SEED.historyMessages],
  );
  // One user with many conversations, partners on both sides of the ordered pair (user_a < user_b),
  // a distinct last activity each, and the last three messages of each unread.
  await client.query(
    `INSERT INTO conversation (id, user_a, user_b, created_at, updated_at, last_seq)
     SELECT gen_random_uuid(), least($1, p), greatest($1, p), ${base}, ${base} + i * interval '1 minute', $3
     FROM (SELECT i, CASE WHEN i % 2 = 0 THEN 'bench-list-a' ELSE 'bench-list-z' END || lpad(i::text, 5, '0') AS p
           FROM generate_series(1, $2::int) i) q`,
    [LIST_OWNER, SEED.listConversations, SEED.messagesPerListConversation],
  );
  await client.query(
    `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
     SELECT gen_random_uuid(), c.id, s,
            CASE WHEN s % 2 = 0 THEN $1 ELSE other END, CASE WHEN s % 2 = 0 THEN other ELSE $1 END,
            'Seeded message ' || s || ': ' || md5(c.id::text || s), t, t, CASE WHEN s > $2 - 3 THEN NULL ELSE t END
     FROM (SELECT id, updated_at, CASE WHEN user_a = $1 THEN user_b ELSE user_a END AS other
           FROM conversation WHERE user_a = $1 OR user_b = $1) c,
          generate_series(1, $2::int) s,
          LATERAL (SELECT c.updated_at - ($2 - s) * interval '1 second' AS t) x`,
    [LIST_OWNER, SEED.messagesPerListConversation],
  );
  await client.query('COMMIT');
  await client.query('VACUUM ANALYZE conversation');
  await client.query('VACUUM ANALYZE message');
}

/** The list owner's conversations in list order, for cursors at every depth. */
export async function listOrder(url: string): Promise<{ id: string; updatedAt: string }[]> {
  return withClient(url, async (client) => {
    const result = await client.query<{ id: string; updated_at: Date }>(
      `SELECT id::text, updated_at FROM conversation WHERE user_a = $1 OR user_b = $1 ORDER BY updated_at DESC, id DESC`,
      [LIST_OWNER],
    );
    return result.rows.map((row) => ({ id: row.id, updatedAt: row.updated_at.toISOString() }));
  });
}

export async function serverVersions(adminUrl: string): Promise<string> {
  return withClient(adminUrl, async (client) => (await client.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version);
}

export async function tableStats(url: string): Promise<{ message_size: string; messages: number }> {
  return withClient(url, async (client) => {
    const result = await client.query<{ message_size: string; messages: number }>(
      `SELECT pg_size_pretty(pg_total_relation_size('message')) AS message_size, (SELECT count(*)::int FROM message) AS messages`,
    );
    return result.rows[0];
  });
}

const FRESH_PEER = 'bench-hist-fresh';

/**
 * A conversation of HISTORY_USERS[0] that grows to `messages` right now, with autovacuum off for
 * the message table until `remove()`, so that no ANALYZE sees it: the statistics still describe
 * the table as seeded (every conversation but one small), as on a live system between analyses.
 */
export async function growFreshConversation(url: string, messages: number): Promise<{ conversationId: string; growMs: number; remove: () => Promise<void> }> {
  return withClient(url, async (client) => {
    await client.query('DELETE FROM conversation WHERE user_a = $1 AND user_b = $2', [HISTORY_USERS[0], FRESH_PEER]);
    await client.query('ALTER TABLE message SET (autovacuum_enabled = false)');
    const started = Date.now();
    await client.query('BEGIN');
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO conversation (id, user_a, user_b, last_seq, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, now()) RETURNING id::text`,
      [HISTORY_USERS[0], FRESH_PEER, messages],
    );
    const conversationId = inserted.rows[0].id;
    await client.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
       SELECT gen_random_uuid(), $1::uuid, s, CASE WHEN s % 2 = 0 THEN $2 ELSE $3 END, CASE WHEN s % 2 = 0 THEN $3 ELSE $2 END,
              'Fresh message ' || s, t, t, t
       FROM generate_series(1, $4::int) s, LATERAL (SELECT now() - ($4 - s) * interval '1 millisecond' AS t) x`,
      [conversationId, HISTORY_USERS[0], FRESH_PEER, messages],
    );
    await client.query('COMMIT');
    return {
      conversationId,
      growMs: Date.now() - started,
      remove: () =>
        withClient(url, async (cleanup) => {
          await cleanup.query('DELETE FROM conversation WHERE id = $1', [conversationId]);
          await cleanup.query('ALTER TABLE message RESET (autovacuum_enabled)');
        }),
    };
  });
}
