import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, recordQueries, type RecordedQuery, type TestDatabase } from '../support/database.js';

/**
 * The hot queries use the indexes they were written for. The SQL is not copied here: each test
 * calls the repository method and EXPLAINs the statement (text and bound values) the Prisma
 * adapter actually sent, so the plans follow the repositories as they change.
 *
 * The plans are recorded in docs/query-plans.md; to print them again:
 *   QUERY_PLANS_PRINT=1 npx vitest run --project integration test/integration/query-plans.spec.ts
 */

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Parent Relationship'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

const INDEX_SCANS = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Index Scan']);

describe('query plans of the hot queries', () => {
  let db: TestDatabase;
  const prefix = `qp-${randomUUID().slice(0, 8)}-`;
  const hub = `${prefix}m-hub`;
  const flooded = `${prefix}m-flooded`;
  let hubConversation: string;
  let longConversation: string;
  const printed: string[] = [];

  beforeAll(async () => {
    db = openDatabase(inject('databaseUrl'));
    // 2,300 conversations with 20 messages each (46,000 messages), plus a long one below. The hub user has 300
    // conversations, on both sides of the pair (user_a with "z-" partners, user_b with "a-" ones).
    // Older messages are delivered and read; each conversation keeps a backlog of its newest four
    // undelivered, six unread, so the hub has 600 undelivered (more than the catch-up limit).
    await db.sql.query(
      `INSERT INTO conversation (id, user_a, user_b, created_at, updated_at)
       SELECT gen_random_uuid(), pair.a, pair.b, now() - interval '30 days', now() - (random() * interval '30 days')
       FROM (
         SELECT $1 AS a, $2 || 'z-' || g AS b FROM generate_series(1, 150) g
         UNION ALL SELECT $2 || 'a-' || g, $1 FROM generate_series(1, 150) g
         UNION ALL SELECT $2 || 'c-' || g, $2 || 'd-' || g FROM generate_series(1, 2000) g
       ) pair`,
      [hub, prefix],
    );
    await db.sql.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
       SELECT gen_random_uuid(), c.id, s,
              CASE WHEN s % 2 = 0 THEN c.user_a ELSE c.user_b END,
              CASE WHEN s % 2 = 0 THEN c.user_b ELSE c.user_a END,
              'message ' || s,
              c.updated_at - (20 - s) * interval '1 minute',
              CASE WHEN s <= 12 THEN c.updated_at END,
              CASE WHEN s <= 8 THEN c.updated_at END
       FROM conversation c CROSS JOIN generate_series(1, 20) s
       WHERE c.user_a LIKE $1 || '%'`,
      [prefix],
    );
    await db.sql.query(`UPDATE conversation SET last_seq = 20 WHERE user_a LIKE $1 || '%'`, [prefix]);
    // And one long conversation: 5,000 messages, all delivered and read.
    const long = await db.sql.query<{ id: string }>(
      `INSERT INTO conversation (id, user_a, user_b, last_seq) VALUES (gen_random_uuid(), $1 || 'long-a', $1 || 'long-b', 5000)
       RETURNING id::text`,
      [prefix],
    );
    longConversation = long.rows[0].id;
    await db.sql.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at, delivered_at, read_at)
       SELECT gen_random_uuid(), c.id, s, c.user_a, c.user_b, 'message ' || s,
              now() - (5000 - s) * interval '1 second', now(), now()
       FROM conversation c CROSS JOIN generate_series(1, 5000) s
       WHERE c.id = $1`,
      [longConversation],
    );
    // A user who has been away: 20,000 undelivered messages over 8 conversations.
    await db.sql.query(
      `INSERT INTO conversation (id, user_a, user_b, last_seq)
       SELECT gen_random_uuid(), $1, $2 || 'z-flood-' || g, 2500 FROM generate_series(1, 8) g`,
      [flooded, prefix],
    );
    await db.sql.query(
      `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, created_at)
       SELECT gen_random_uuid(), c.id, s, c.user_b, c.user_a, 'message ' || s, now() - (2500 - s) * interval '1 minute'
       FROM conversation c CROSS JOIN generate_series(1, 2500) s
       WHERE c.user_a = $1`,
      [flooded],
    );
    await db.sql.query('ANALYZE conversation');
    await db.sql.query('ANALYZE message');
    const found = await db.sql.query<{ id: string }>('SELECT id::text FROM conversation WHERE user_a = $1 LIMIT 1', [hub]);
    hubConversation = found.rows[0].id;
  });

  afterAll(async () => {
    if (process.env.QUERY_PLANS_PRINT) process.stdout.write(`\n${printed.join('\n\n')}\n`);
    await db?.close();
  });

  /** The one statement `action` sent, EXPLAINed with the same bound values. */
  async function planOf(label: string, action: () => Promise<unknown>): Promise<PlanNode> {
    const queries = await recordQueries(db, action);
    expect(queries).toHaveLength(1);
    const [query] = queries;
    const result = await db.sql.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${query.text}`, query.values);
    if (process.env.QUERY_PLANS_PRINT) printed.push(await analyzed(label, query));
    return result.rows[0]['QUERY PLAN'][0].Plan;
  }

  /** EXPLAIN ANALYZE in a transaction that is rolled back (some statements write), for the docs. */
  async function analyzed(label: string, query: RecordedQuery): Promise<string> {
    const client = await db.sql.connect();
    try {
      await client.query('BEGIN');
      const result = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${query.text}`,
        query.values,
      );
      return `-- ${label}\n${result.rows.map((row) => row['QUERY PLAN']).join('\n')}`;
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  function indexesUsed(plan: PlanNode): string[] {
    return nodesOf(plan)
      .filter((node) => INDEX_SCANS.has(node['Node Type']))
      .map((node) => node['Index Name']!);
  }

  function expectNoSeqScan(plan: PlanNode): void {
    const seqScans = nodesOf(plan).filter((node) => node['Node Type'] === 'Seq Scan');
    expect(seqScans.map((node) => node['Relation Name'])).toEqual([]);
  }

  /** Sort and Incremental Sort nodes. */
  const sorts = (plan: PlanNode) => nodesOf(plan).filter((node) => node['Node Type'].includes('Sort'));

  it('history reads exactly the page\'s range of (conversation_id, seq), in a long conversation or a short one', async () => {
    for (const [conversation, before] of [[longConversation, undefined], [longConversation, 2500], [hubConversation, undefined]] as const) {
      const plan = await planOf(`history, beforeSeq ${before ?? 'none'}`, () => db.messages.history(conversation, before, 50));
      expectNoSeqScan(plan);
      const onMessage = indexesUsed(plan).filter((name) => name !== 'conversation_pkey');
      expect(onMessage).toEqual(['message_conversation_seq_key']);
      // The range is the page: a sort, if the planner wants one, sorts at most the page.
      for (const sort of sorts(plan)) expect(sort['Plan Rows']).toBeLessThanOrEqual(50);
    }
  });

  it('catch-up of a large backlog reads the partial undelivered-by-recipient index in order, with no sort', async () => {
    const plan = await planOf('undelivered (catch-up), backlog of 20,000', () => db.messages.undelivered(flooded, 500));
    expectNoSeqScan(plan);
    expect(sorts(plan)).toEqual([]);
    expect(plan['Node Type']).toBe('Limit');
    expect(indexesUsed(plan)).toEqual(['message_undelivered_by_recipient_idx']);
    const scan = nodesOf(plan).find((node) => node['Index Name'] === 'message_undelivered_by_recipient_idx');
    expect(scan?.['Node Type']).toBe('Index Scan');
    expect(scan?.['Scan Direction']).toBe('Forward');
  });

  it('catch-up of a small backlog touches only that backlog', async () => {
    const plan = await planOf('undelivered (catch-up), backlog of 1,200', () => db.messages.undelivered(hub, 500));
    expectNoSeqScan(plan);
    expect(indexesUsed(plan)).toEqual(['message_undelivered_by_recipient_idx']);
    // The planner may fetch the user's backlog and top-N sort it; never more than that backlog.
    for (const sort of sorts(plan)) expect(sort['Plan Rows']).toBeLessThan(2000);
  });

  it('the conversation list merges both activity indexes, decorating only the page', async () => {
    const [first] = await db.conversations.listForUser(hub, undefined, 21);
    const cursors = [undefined, { updatedAt: new Date(first!.updatedAt), conversationId: first!.conversationId }];
    for (const after of cursors) {
      const plan = await planOf(`listForUser, ${after ? 'with' : 'without'} cursor`, () => db.conversations.listForUser(hub, after, 21));
      expectNoSeqScan(plan);
      const used = indexesUsed(plan);
      expect(used).toContain('conversation_user_a_activity_idx');
      expect(used).toContain('conversation_user_b_activity_idx');
      // The last message of each row of the page, by (conversation_id, seq); unread counts are counters.
      expect(used).toContain('message_conversation_seq_key');
      // Any sort is over the two bounded index walks (at most 2 × limit rows), never a table.
      for (const sort of sorts(plan)) {
        expect(sort['Plan Rows']).toBeLessThanOrEqual(42);
        for (const below of nodesOf(sort).filter((node) => node['Node Type'].endsWith('Scan'))) {
          expect(INDEX_SCANS.has(below['Node Type'])).toBe(true);
        }
      }
    }
  });

  it('receipts reach the conversation\'s messages through an index', async () => {
    const target = await db.sql.query<{ id: string; recipient_id: string }>(
      'SELECT id::text, recipient_id FROM message WHERE conversation_id = $1 AND seq = 18',
      [hubConversation],
    );
    const { id, recipient_id: recipient } = target.rows[0];
    for (const [label, mark] of [
      ['markDelivered', () => db.messages.markDelivered(hubConversation, recipient, id)],
      ['markRead', () => db.messages.markRead(hubConversation, recipient, id)],
    ] as const) {
      const plan = await planOf(label, mark);
      expectNoSeqScan(plan);
      const onMessage = nodesOf(plan).filter((node) => node['Relation Name'] === 'message' && node['Node Type'].includes('Scan'));
      expect(onMessage.length).toBeGreaterThan(0);
      for (const node of onMessage) expect(node['Node Type']).not.toBe('Seq Scan');
      expect(sorts(plan).filter((node) => node['Plan Rows'] > 20)).toEqual([]);
    }
  });
});
