import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityCursor } from '../../src/conversations/conversations.repository.js';
import { defaultMigrationsDir, migrate } from '../../src/infrastructure/prisma/migrator.js';
import { userId } from '../support/factories.js';
import { createConversation, openDatabase, sendMessage, type TestDatabase } from '../support/database.js';
import { createScratchDatabase } from '../support/services.js';

/**
 * A database whose default TimeZone is not UTC, as an embedded PostgreSQL initialised on a
 * developer machine in New York would have. Timestamps must still be the right instants, and
 * keyset cursors built from them must still page correctly.
 */
describe('timestamps when the database time zone is not UTC', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let db: TestDatabase;

  /** The instant PostgreSQL holds, in epoch milliseconds, independent of any session time zone. */
  async function epochMs(table: 'message' | 'conversation', column: string, id: string): Promise<number> {
    const result = await db.sql.query<{ ms: string }>(
      `SELECT (extract(epoch FROM ${column}) * 1000)::bigint::text AS ms FROM ${table} WHERE id = $1`,
      [id],
    );
    return Number(result.rows[0].ms);
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase('messaging_test_tz');
    await migrate(scratch.url, defaultMigrationsDir());
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    const name = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0].db;
    await admin.query(`ALTER DATABASE "${name}" SET TimeZone = 'America/New_York'`);
    await admin.end();
    db = openDatabase(scratch.url);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('runs on a database whose sessions default to a non-UTC zone', async () => {
    const result = await db.sql.query<{ TimeZone: string }>('SHOW TimeZone');
    expect(result.rows[0].TimeZone).toBe('America/New_York');
  });

  it('returns message and conversation timestamps as the instants stored', async () => {
    const before = Date.now();
    const conversation = await createConversation(db);
    const sent = (await sendMessage(db, conversation, conversation.userA)).message;
    const stored = await epochMs('message', 'created_at', sent.messageId);
    expect(Date.parse(sent.timestamp)).toBe(stored);
    // Not hours away from the client's clock (same machine).
    expect(Math.abs(stored - before)).toBeLessThan(60_000);

    const [fromHistory] = await db.messages.history(conversation.conversationId, undefined, 1);
    expect(Date.parse(fromHistory.timestamp)).toBe(stored);
    expect(Date.parse((await db.conversations.findById(conversation.conversationId))!.createdAt)).toBe(
      await epochMs('conversation', 'created_at', conversation.conversationId),
    );

    const mark = await db.messages.markRead(conversation.conversationId, conversation.userB, sent.messageId);
    expect(mark.newest?.at.getTime()).toBe(await epochMs('message', 'read_at', sent.messageId));

    const [summary] = await db.conversations.listForUser(conversation.userA, undefined, 1);
    expect(Date.parse(summary.updatedAt)).toBe(await epochMs('conversation', 'updated_at', conversation.conversationId));
    expect(Date.parse(summary.lastMessage!.timestamp)).toBe(stored);
  });

  it('pages the conversation list by keyset without duplicates or gaps', async () => {
    const me = userId('m');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const conversation = await createConversation(db, me, userId(i % 2 ? 'a' : 'z'));
      await sendMessage(db, conversation, me);
      ids.push(conversation.conversationId);
    }
    const all = await db.conversations.listForUser(me, undefined, 100);
    expect(all.map((row) => row.conversationId)).toEqual([...ids].reverse());
    const seen: string[] = [];
    let after: ActivityCursor | undefined;
    for (let guard = 0; guard < 20; guard++) {
      const page = await db.conversations.listForUser(me, after, 2);
      seen.push(...page.map((row) => row.conversationId));
      if (page.length < 2) break;
      after = { updatedAt: new Date(page[1].updatedAt), conversationId: page[1].conversationId };
    }
    expect(seen).toEqual(all.map((row) => row.conversationId));
  });
});
