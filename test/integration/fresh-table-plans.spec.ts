import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_OLDEST } from '../../src/events/relay-session.js';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { openDatabase, recordQueries, type TestDatabase } from '../support/database.js';
import { createScratchDatabase } from '../support/services.js';

interface AnalyzedNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: AnalyzedNode[];
}

const nodesOf = (plan: AnalyzedNode): AnalyzedNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];

const GROWN = 20_000;

/**
 * Plans must not depend on fresh statistics (issue: a conversation that grew to 20,000 messages
 * before autovacuum analyzed the table cost ~3 ms of PostgreSQL CPU per history page). Here the
 * tables are analyzed while small, autovacuum is off, and then one conversation grows to 20,000
 * messages and one user to a 5,000-message backlog: every hot statement must still touch about
 * what it returns. Each statement runs under EXPLAIN ANALYZE in a transaction that is rolled back.
 */
describe('hot statements on a table that has just grown, before any ANALYZE', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let db: TestDatabase;
  let grown: string;
  let backlogConversation: string;

  beforeAll(async () => {
    scratch = await createScratchDatabase('messaging_fresh_plans');
    await migrate(scratch.url, defaultMigrationsDir());
    db = openDatabase(scratch.url);
    await db.sql.query('ALTER TABLE message SET (autovacuum_enabled = false)');
    await db.sql.query('ALTER TABLE conversation SET (autovacuum_enabled = false)');
    // Small and analyzed: 50 conversations of 10 messages.
    await db.sql.query(`INSERT INTO conversation (id, user_a, user_b, last_seq)
      SELECT gen_random_uuid(), 'small-a-' || g, 'small-b-' || g, 10 FROM generate_series(1, 50) g`);
    await db.sql.query(`INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, delivered_at, read_at)
      SELECT gen_random_uuid(), c.id, s, c.user_a, c.user_b, 'm' || s, now(), now()
      FROM conversation c CROSS JOIN generate_series(1, 10) s`);
    await db.sql.query('ANALYZE conversation');
    await db.sql.query('ANALYZE message');
    // Then, with no ANALYZE: a conversation of 20,000 messages, delivered and read up to 19,990.
    const inserted = await db.sql.query<{ id: string }>(
      `INSERT INTO conversation (id, user_a, user_b, last_seq, b_delivered_seq, b_read_seq, b_unread)
       VALUES (gen_random_uuid(), 'grown-a', 'grown-b', $1, $1 - 10, $1 - 10, 10) RETURNING id::text`,
      [GROWN],
    );
    grown = inserted.rows[0]!.id;
    await db.sql.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
       SELECT gen_random_uuid(), $1, s, 'grown-a', 'grown-b', 'message ' || s, now() - ($2 - s) * interval '1 second',
              CASE WHEN s <= $2 - 10 THEN now() END, CASE WHEN s <= $2 - 10 THEN now() END
       FROM generate_series(1, $2) s`,
      [grown, GROWN],
    );
    // And a user back from holidays: 5,000 undelivered messages in one conversation.
    const backlog = await db.sql.query<{ id: string }>(
      `INSERT INTO conversation (id, user_a, user_b, last_seq, a_unread) VALUES (gen_random_uuid(), 'away', 'busy', 5000, 5000) RETURNING id::text`,
    );
    backlogConversation = backlog.rows[0]!.id;
    await db.sql.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at)
       SELECT gen_random_uuid(), $1, s, 'busy', 'away', 'message ' || s, now() - (5000 - s) * interval '1 second'
       FROM generate_series(1, 5000) s`,
      [backlogConversation],
    );
    const stats = await db.sql.query<{ n_live_tup: string; last_analyze: Date | null }>(
      "SELECT n_live_tup, last_analyze FROM pg_stat_user_tables WHERE relname = 'message'",
    );
    expect(stats.rows[0]?.last_analyze).not.toBeNull();
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  /** The statement `action` sends, run under EXPLAIN ANALYZE and rolled back. */
  async function analyzed(action: () => Promise<unknown>): Promise<AnalyzedNode> {
    const [query] = await recordQueries(db, action, { execute: false });
    const client = await db.sql.connect();
    try {
      await client.query('BEGIN');
      const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: AnalyzedNode }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query!.text}`, query!.values);
      return result.rows[0]!['QUERY PLAN'][0]!.Plan;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  /** Rows any node produced (over all its loops), and the buffers the statement touched. */
  function work(plan: AnalyzedNode) {
    return {
      maxRows: Math.max(...nodesOf(plan).map((node) => node['Actual Rows'] * node['Actual Loops'])),
      buffers: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'],
    };
  }

  it('history pages (newest, and deep by cursor) read about one page', async () => {
    for (const before of [undefined, GROWN / 2, 60]) {
      const plan = await analyzed(() => db.messages.history(grown, before, 50));
      const { maxRows, buffers } = work(plan);
      expect(maxRows, `beforeSeq ${before}`).toBeLessThanOrEqual(51);
      expect(buffers, `beforeSeq ${before}`).toBeLessThan(40);
    }
  });

  it('catch-up reads 500 of a 5,000-message backlog, not the backlog', async () => {
    const { maxRows, buffers } = work(await analyzed(() => db.messages.undelivered('away', 500)));
    expect(maxRows).toBeLessThanOrEqual(500);
    expect(buffers).toBeLessThan(600);
  });

  it('receipts read only the messages they newly mark', async () => {
    const target = await db.sql.query<{ id: string }>('SELECT id::text FROM message WHERE conversation_id = $1 AND seq = $2', [grown, GROWN]);
    for (const mark of [() => db.messages.markDelivered(grown, 'grown-b', target.rows[0]!.id), () => db.messages.markRead(grown, 'grown-b', target.rows[0]!.id)]) {
      const { maxRows, buffers } = work(await analyzed(mark));
      expect(maxRows).toBeLessThanOrEqual(11);
      // Ten rows updated: heap and index pages for each (a walk of the conversation touches ~550).
      expect(buffers).toBeLessThan(250);
    }
  });

  it('the conversation list decorates only its page', async () => {
    const { maxRows, buffers } = work(await analyzed(() => db.conversations.listForUser('grown-b', undefined, 21)));
    expect(maxRows).toBeLessThanOrEqual(2);
    expect(buffers).toBeLessThan(30);
  });

  it("a send batch of one conversation updates its conversation row by primary key, whatever the table's size", async () => {
    const batch = [1, 2, 3].map((n) => ({ id: uuidv7(), conversationId: grown, senderId: 'grown-a', recipientId: 'grown-b', recipientIsUserA: false, text: `fresh ${n}` }));
    // Recorded, not executed: the repository sees no rows come back.
    const plan = await analyzed(() => expect(db.messages.insertBatch(batch)).rejects.toThrow(/vanished/));
    // The batch's three rows and its one conversation; a join with the conversation table (52 rows,
    // analyzed when it had 50) would read them all.
    expect(work(plan).maxRows).toBeLessThanOrEqual(3);
  });

  it("the outbox relay reads its round's rows and their messages by primary key", async () => {
    // 100 send batches of 10 of the grown conversation's messages, written after the last ANALYZE.
    await db.sql.query(
      `INSERT INTO outbox_event (subject, events, message_ids)
       SELECT 'messaging.v1.message.sent', 10, array_agg(m.id ORDER BY m.seq) FROM message m
       WHERE m.conversation_id = $1 AND m.seq <= 1000 GROUP BY (m.seq - 1) / 10`,
      [grown],
    );
    const client = await db.sql.connect();
    try {
      const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: AnalyzedNode }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${OUTBOX_OLDEST}`, [500]);
      const { maxRows, buffers } = work(result.rows[0]!['QUERY PLAN'][0]!.Plan);
      // About 500 events of 50 rows; a scan or hash of the message table would read 25,000 rows.
      expect(maxRows).toBeLessThanOrEqual(510);
      expect(buffers).toBeLessThan(3000);
    } finally {
      await client.query('DELETE FROM outbox_event');
      client.release();
    }
  });
});
