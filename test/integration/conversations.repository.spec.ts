import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ActivityCursor } from '../../src/conversations/conversations.repository.js';
import type { ConversationSummary } from '@platform/messaging-client/contract';
import { userId } from '../support/factories.js';
import { createConversation, openDatabase, sendMessage, type TestConversation, type TestDatabase } from '../support/database.js';

describe('ConversationsRepository on PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(() => {
    db = openDatabase(inject('databaseUrl'));
  });
  afterAll(async () => {
    await db?.close();
  });

  async function pairCount(userA: string, userB: string): Promise<number> {
    const result = await db.sql.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM conversation WHERE (user_a, user_b) IN (($1, $2), ($2, $1))',
      [userA, userB],
    );
    return result.rows[0].n;
  }

  describe('findOrCreate', () => {
    it('creates the pair once and then returns the same row', async () => {
      const [userA, userB] = [userId('a'), userId('b')];
      const firstId = uuidv7();
      const first = await db.conversations.findOrCreate(firstId, userA, userB);
      expect(first).toEqual({ conversationId: firstId, participantIds: [userA, userB], createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/) });
      // A new conversation's last activity is its creation.
      const [summary] = await db.conversations.listForUser(userA, undefined, 1);
      expect(summary?.updatedAt).toBe(first.createdAt);

      const again = await db.conversations.findOrCreate(uuidv7(), userA, userB);
      expect(again).toEqual(first);
      expect(await db.conversations.findById(firstId)).toEqual(first);
      expect(await pairCount(userA, userB)).toBe(1);
    });

    it('gives 20 concurrent calls for the same pair one row', async () => {
      const [userA, userB] = [userId('a'), userId('b')];
      const rows = await Promise.all(Array.from({ length: 20 }, () => db.conversations.findOrCreate(uuidv7(), userA, userB)));
      expect(new Set(rows.map((row) => row.conversationId)).size).toBe(1);
      for (const row of rows) expect(row).toEqual(rows[0]);
      expect(await pairCount(userA, userB)).toBe(1);
    });

    it('keeps different pairs apart, even with a shared participant', async () => {
      const [a, b, c] = [userId('a'), userId('b'), userId('c')];
      const ab = await db.conversations.findOrCreate(uuidv7(), a, b);
      const ac = await db.conversations.findOrCreate(uuidv7(), a, c);
      expect(ab.conversationId).not.toBe(ac.conversationId);
    });

    it('refuses an unordered or degenerate pair (CHECK user_a < user_b)', async () => {
      const [userA, userB] = [userId('a'), userId('b')];
      await expect(db.conversations.findOrCreate(uuidv7(), userB, userA)).rejects.toThrow(/conversation_ordered_pair_check/);
      await expect(db.conversations.findOrCreate(uuidv7(), userA, userA)).rejects.toThrow(/conversation_ordered_pair_check/);
      await expect(
        db.sql.query('INSERT INTO conversation (id, user_a, user_b) VALUES ($1, $2, $3)', [uuidv7(), userB, userA]),
      ).rejects.toThrow(/conversation_ordered_pair_check/);
      expect(await pairCount(userA, userB)).toBe(0);
    });

    it('finds nothing for an unknown id', async () => {
      expect(await db.conversations.findById(uuidv7())).toBeUndefined();
    });
  });

  describe('listForUser', () => {
    /** Walks every page as the service does: the cursor is the last row's (updated_at, id). */
    async function walk(user: string, pageSize: number): Promise<ConversationSummary[][]> {
      const pages: ConversationSummary[][] = [];
      let after: ActivityCursor | undefined;
      for (let guard = 0; guard < 100; guard++) {
        const page = await db.conversations.listForUser(user, after, pageSize);
        if (page.length > 0) pages.push(page);
        if (page.length < pageSize) return pages;
        const last = page.at(-1)!;
        after = { updatedAt: new Date(last.updatedAt), conversationId: last.conversationId };
      }
      throw new Error('pagination did not end');
    }

    function byActivity(x: { updated_at: Date; id: string }, y: { updated_at: Date; id: string }): number {
      return y.updated_at.getTime() - x.updated_at.getTime() || (y.id < x.id ? -1 : y.id > x.id ? 1 : 0);
    }

    /**
     * Eight conversations of `me`: as user_a with "z…" partners and as user_b with "a…" partners,
     * with activity times set so that several tie (the id decides between them).
     */
    async function arrange() {
      const me = userId('m');
      const conversations: TestConversation[] = [];
      for (let i = 0; i < 8; i++) conversations.push(await createConversation(db, me, userId(i % 2 ? 'a' : 'z')));
      expect(conversations.some((c) => c.userA === me) && conversations.some((c) => c.userB === me)).toBe(true);
      const base = Date.parse('2030-01-01T00:00:00.000Z');
      const offsets = [5, 3, 3, 3, 9, 1, 9, 7];
      for (const [i, conversation] of conversations.entries()) {
        await db.sql.query('UPDATE conversation SET updated_at = $2 WHERE id = $1', [conversation.conversationId, new Date(base + offsets[i] * 1000)]);
      }
      // Someone else's conversation with the same times must not show up.
      const foreign = await createConversation(db);
      await db.sql.query('UPDATE conversation SET updated_at = $2 WHERE id = $1', [foreign.conversationId, new Date(base + 4000)]);
      const expected = conversations
        .map((c, i) => ({ id: c.conversationId, updated_at: new Date(base + offsets[i] * 1000) }))
        .sort(byActivity);
      return { me, conversations, expected };
    }

    it('orders by updated_at desc, then id desc, and includes both sides of the pair', async () => {
      const { me, expected } = await arrange();
      const rows = await db.conversations.listForUser(me, undefined, 100);
      expect(rows.map((row) => row.conversationId)).toEqual(expected.map((c) => c.id));
      expect(rows.map((row) => Date.parse(row.updatedAt))).toEqual(expected.map((c) => c.updated_at.getTime()));
      for (const row of rows) expect(row.participantIds).toContain(me);
    });

    it.each([1, 2, 3, 4, 7, 8])('pages by keyset with page size %i, without duplicates or gaps', async (pageSize) => {
      const { me, expected } = await arrange();
      const pages = await walk(me, pageSize);
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(pageSize);
      expect(pages.flat().map((row) => row.conversationId)).toEqual(expected.map((c) => c.id));
    });

    it('moves a conversation to the top when a message is sent in it', async () => {
      const { me, conversations, expected } = await arrange();
      const oldest = conversations.find((c) => c.conversationId === expected.at(-1)!.id)!;
      // Back to the present (the arranged times are in 2030, and activity never moves backwards).
      await db.sql.query("UPDATE conversation SET updated_at = now() - interval '1 day' WHERE id = ANY($1::uuid[])", [
        conversations.map((c) => c.conversationId),
      ]);
      const newest = conversations.find((c) => c.conversationId === expected[0].id)!;
      await sendMessage(db, newest, me);
      await sendMessage(db, oldest, me);
      const rows = await db.conversations.listForUser(me, undefined, 2);
      expect(rows.map((row) => row.conversationId)).toEqual([oldest.conversationId, newest.conversationId]);
    });

    it("counts unread messages from the caller's side and carries the last message", async () => {
      const me = userId('m');
      const conversation = await createConversation(db, me, userId('z'));
      const other = conversation.other(me);
      const empty = await createConversation(db, me, userId('a'));

      const fromOther = [];
      for (let i = 0; i < 3; i++) fromOther.push((await sendMessage(db, conversation, other)).message);
      await sendMessage(db, conversation, me);
      const last = (await sendMessage(db, conversation, me, { text: 'the last word' })).message;

      const summaryOf = async (user: string, id: string) => (await db.conversations.listForUser(user, undefined, 10)).find((row) => row.conversationId === id)!;
      const summary = await summaryOf(me, conversation.conversationId);
      expect(summary.unreadCount).toBe(3);
      expect(summary.lastMessage).toEqual(last);
      expect(summary.lastMessage).toMatchObject({ seq: 5, senderId: me, text: 'the last word' });
      expect(summary.updatedAt).toBe(last.timestamp);

      const blank = await summaryOf(me, empty.conversationId);
      expect(blank.unreadCount).toBe(0);
      expect(blank.lastMessage).toBeUndefined();

      const theirs = await db.conversations.listForUser(other, undefined, 10);
      expect(theirs.map((row) => row.conversationId)).toEqual([conversation.conversationId]);
      expect(theirs[0].unreadCount).toBe(2);
      expect(theirs[0].lastMessage?.messageId).toBe(last.messageId);

      await db.messages.markRead(conversation.conversationId, me, fromOther[1].messageId);
      expect((await summaryOf(me, conversation.conversationId)).unreadCount).toBe(1);
      // Reading again, or backwards, moves no counter.
      await db.messages.markRead(conversation.conversationId, me, fromOther[1].messageId);
      await db.messages.markRead(conversation.conversationId, me, fromOther[0].messageId);
      expect((await summaryOf(me, conversation.conversationId)).unreadCount).toBe(1);
      // Delivery alone does not make a message read.
      await db.messages.markDelivered(conversation.conversationId, other, last.messageId);
      expect((await summaryOf(other, conversation.conversationId)).unreadCount).toBe(2);
      await db.messages.markRead(conversation.conversationId, other, last.messageId);
      const read = await summaryOf(other, conversation.conversationId);
      expect(read.unreadCount).toBe(0);
      expect(read.lastMessage?.readAt).toBeDefined();
      expect(read.lastMessage?.deliveredAt).toBeDefined();
    });

    it('keeps unread counters exact under concurrent sends and reads', async () => {
      const conversation = await createConversation(db);
      const [a, b] = [conversation.userA, conversation.userB];
      const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => sendMessage(db, conversation, i % 4 === 0 ? b : a)));
      const toB = sent.filter((outcome) => outcome.message.senderId === a).map((outcome) => outcome.message);
      // Reads racing each other and further sends.
      await Promise.all([
        ...toB.map((message) => db.messages.markRead(conversation.conversationId, b, message.messageId)),
        ...Array.from({ length: 10 }, () => sendMessage(db, conversation, a)),
      ]);
      const unread = await db.sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM message WHERE conversation_id = $1 AND recipient_id = $2 AND read_at IS NULL',
        [conversation.conversationId, b],
      );
      const counters = await db.sql.query<{ b_unread: number; a_unread: number }>('SELECT a_unread, b_unread FROM conversation WHERE id = $1', [conversation.conversationId]);
      expect(counters.rows[0]!.b_unread).toBe(unread.rows[0]!.n);
      expect(counters.rows[0]!.a_unread).toBe(10);
    });

    it('returns nothing for a user without conversations', async () => {
      expect(await db.conversations.listForUser(userId('lonely'), undefined, 20)).toEqual([]);
    });
  });
});
