import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Message } from '@platform/messaging-client/contract';
import { clientMessageId, userId } from '../support/factories.js';
import { createConversation, openDatabase, sendMessage, type TestConversation, type TestDatabase } from '../support/database.js';
import { sleep } from '../support/figures.js';
import { applyReceipt, type ReceiptKind, type Watermarks } from '../../src/messages/receipts.js';

describe('MessagesRepository on PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(() => {
    db = openDatabase(inject('databaseUrl'));
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Every stored message of the conversation, in seq order, straight from the table. */
  async function stored(conversation: TestConversation) {
    const result = await db.sql.query<{ id: string; seq: number; sender_id: string; recipient_id: string; text: string; created_at: Date }>(
      'SELECT id::text, seq, sender_id, recipient_id, text, created_at FROM message WHERE conversation_id = $1 ORDER BY seq',
      [conversation.conversationId],
    );
    return result.rows;
  }

  async function lastSeq(conversation: TestConversation): Promise<number> {
    const result = await db.sql.query<{ last_seq: number }>('SELECT last_seq FROM conversation WHERE id = $1', [conversation.conversationId]);
    return result.rows[0].last_seq;
  }

  async function marks(ids: string[]) {
    const result = await db.sql.query<{ id: string; delivered_at: Date | null; read_at: Date | null }>(
      'SELECT id::text, delivered_at, read_at FROM message WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(result.rows.map((row) => [row.id, row]));
  }

  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  describe('insert', () => {
    it('numbers messages 1..n without gaps, separately in each conversation', async () => {
      const first = await createConversation(db);
      const second = await createConversation(db);
      const seqs: Record<string, number[]> = { [first.conversationId]: [], [second.conversationId]: [] };
      for (let i = 0; i < 5; i++) {
        for (const conversation of [first, second]) {
          const sender = i % 2 === 0 ? conversation.userA : conversation.userB;
          const outcome = await sendMessage(db, conversation, sender);
          expect(outcome.created).toBe(true);
          seqs[conversation.conversationId].push(outcome.message.seq);
        }
      }
      expect(seqs[first.conversationId]).toEqual(range(5));
      expect(seqs[second.conversationId]).toEqual(range(5));
      expect((await stored(first)).map((row) => row.seq)).toEqual(range(5));
      expect(await lastSeq(first)).toBe(5);
      expect(await lastSeq(second)).toBe(5);
    });

    it('returns the row as stored, and sets recipient, timestamps and the conversation activity', async () => {
      const conversation = await createConversation(db);
      const cmid = clientMessageId();
      const outcome = await sendMessage(db, conversation, conversation.userA, { text: 'hi there', clientMessageId: cmid });
      const [row] = await stored(conversation);
      expect(outcome.message).toEqual({
        messageId: row.id,
        conversationId: conversation.conversationId,
        seq: 1,
        senderId: conversation.userA,
        text: 'hi there',
        clientMessageId: cmid,
        timestamp: row.created_at.toISOString(),
      });
      expect(row.recipient_id).toBe(conversation.userB);
      const [after] = await db.conversations.listForUser(conversation.userA, undefined, 1);
      // Last activity is the newest message's timestamp.
      expect(after?.updatedAt).toBe(row.created_at.toISOString());
      expect(Date.parse(after!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(conversation.createdAt));
    });

    it('gives 50 concurrent inserts in one conversation exactly seq 1..50, timestamps in seq order', async () => {
      const conversation = await createConversation(db);
      const outcomes = await Promise.all(
        range(50).map((i) => sendMessage(db, conversation, i % 2 ? conversation.userA : conversation.userB)),
      );
      expect(outcomes.every((outcome) => outcome.created)).toBe(true);
      expect(outcomes.map((outcome) => outcome.message.seq).sort((x, y) => x - y)).toEqual(range(50));
      const rows = await stored(conversation);
      expect(rows.map((row) => row.seq)).toEqual(range(50));
      expect(new Set(rows.map((row) => row.id)).size).toBe(50);
      expect(await lastSeq(conversation)).toBe(50);
      // Ordering by seq never contradicts ordering by time.
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i].created_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].created_at.getTime());
      }
    });

    it('returns the original for a repeated (sender, clientMessageId) and stores nothing new', async () => {
      const conversation = await createConversation(db);
      const cmid = clientMessageId();
      const first = await sendMessage(db, conversation, conversation.userA, { text: 'original', clientMessageId: cmid });
      const again = await sendMessage(db, conversation, conversation.userA, { text: 'retry with other text', clientMessageId: cmid });
      expect(first.created).toBe(true);
      expect(again.created).toBe(false);
      expect(again.message).toEqual(first.message);
      expect(await stored(conversation)).toHaveLength(1);
      // The failed attempt did not consume a seq: the next message is 2, not 3.
      expect(await lastSeq(conversation)).toBe(1);
      const next = await sendMessage(db, conversation, conversation.userA);
      expect(next.message.seq).toBe(2);
    });

    it('stores one row for 10 concurrent inserts with the same clientMessageId, and leaves no gap', async () => {
      const conversation = await createConversation(db);
      const cmid = clientMessageId();
      const outcomes = await Promise.all(
        range(10).map((i) => sendMessage(db, conversation, conversation.userB, { text: `attempt ${i}`, clientMessageId: cmid })),
      );
      const created = outcomes.filter((outcome) => outcome.created);
      expect(created).toHaveLength(1);
      for (const outcome of outcomes) expect(outcome.message).toEqual(created[0].message);
      const rows = await stored(conversation);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: created[0].message.messageId, seq: 1, text: created[0].message.text });
      expect(await lastSeq(conversation)).toBe(1);
      expect((await sendMessage(db, conversation, conversation.userA)).message.seq).toBe(2);
    });

    it('treats the same clientMessageId from the other sender as a different message', async () => {
      const conversation = await createConversation(db);
      const cmid = clientMessageId();
      const fromA = await sendMessage(db, conversation, conversation.userA, { clientMessageId: cmid });
      const fromB = await sendMessage(db, conversation, conversation.userB, { clientMessageId: cmid });
      expect(fromA.created).toBe(true);
      expect(fromB.created).toBe(true);
      expect(fromB.message.messageId).not.toBe(fromA.message.messageId);
      expect([fromA.message.seq, fromB.message.seq]).toEqual([1, 2]);
      expect(await stored(conversation)).toHaveLength(2);
    });

    it('stores messages without a clientMessageId independently', async () => {
      const conversation = await createConversation(db);
      const outcomes = await Promise.all(range(3).map(() => sendMessage(db, conversation, conversation.userA, { text: 'same text' })));
      expect(outcomes.every((outcome) => outcome.created && outcome.message.clientMessageId === undefined)).toBe(true);
      expect(await stored(conversation)).toHaveLength(3);
    });

    it('rejects a message for a conversation that does not exist and stores nothing', async () => {
      const missing = uuidv7();
      await expect(
        db.messages.insertOne({ id: uuidv7(), conversationId: missing, senderId: userId(), recipientId: userId(), recipientIsUserA: true, text: 'x' }),
      ).rejects.toThrow();
      const count = await db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM message WHERE conversation_id = $1', [missing]);
      expect(count.rows[0].n).toBe(0);
    });
  });

  describe('markDelivered', () => {
    it('is a high-water mark over the other participant\'s messages', async () => {
      const conversation = await createConversation(db);
      const { userA: a, userB: b } = conversation;
      const m1 = (await sendMessage(db, conversation, a)).message;
      const m2 = (await sendMessage(db, conversation, a)).message;
      const m3 = (await sendMessage(db, conversation, a)).message;
      const m4 = (await sendMessage(db, conversation, b)).message;
      const m5 = (await sendMessage(db, conversation, a)).message;
      const all = [m1, m2, m3, m4, m5].map((m) => m.messageId);

      const upTo2 = await db.messages.markDelivered(conversation.conversationId, b, m2.messageId);
      expect(upTo2.targetFound).toBe(true);
      expect(upTo2.newest?.id).toBe(m2.messageId);
      let state = await marks(all);
      expect(state.get(m1.messageId)?.delivered_at).not.toBeNull();
      expect(state.get(m2.messageId)?.delivered_at?.getTime()).toBe(upTo2.newest?.at.getTime());
      expect(state.get(m3.messageId)?.delivered_at).toBeNull();
      const deliveredAt1 = state.get(m1.messageId)!.delivered_at!.getTime();

      // Moving the mark backwards changes nothing and reports nothing new.
      const back = await db.messages.markDelivered(conversation.conversationId, b, m1.messageId);
      expect(back).toEqual({ targetFound: true });
      state = await marks(all);
      expect(state.get(m1.messageId)?.delivered_at?.getTime()).toBe(deliveredAt1);

      const upTo5 = await db.messages.markDelivered(conversation.conversationId, b, m5.messageId);
      expect(upTo5.newest?.id).toBe(m5.messageId);
      state = await marks(all);
      expect(state.get(m3.messageId)?.delivered_at).not.toBeNull();
      expect(state.get(m5.messageId)?.delivered_at).not.toBeNull();
      expect(state.get(m1.messageId)?.delivered_at?.getTime()).toBe(deliveredAt1);
      // b's own message is not b's to mark.
      expect(state.get(m4.messageId)?.delivered_at).toBeNull();
      expect(state.get(m4.messageId)?.read_at).toBeNull();
      // Nothing is ever marked read by a delivery receipt.
      for (const id of all) expect(state.get(id)?.read_at).toBeNull();

      expect(await db.messages.markDelivered(conversation.conversationId, b, m3.messageId)).toEqual({ targetFound: true });
      expect(await db.messages.markDelivered(conversation.conversationId, b, m5.messageId)).toEqual({ targetFound: true });
    });

    it('reports an unknown target, or one from another conversation, as not found', async () => {
      const conversation = await createConversation(db);
      const elsewhere = await createConversation(db);
      const foreign = (await sendMessage(db, elsewhere, elsewhere.userA)).message;
      await sendMessage(db, conversation, conversation.userA);
      expect(await db.messages.markDelivered(conversation.conversationId, conversation.userB, uuidv7())).toEqual({ targetFound: false });
      expect(await db.messages.markDelivered(conversation.conversationId, conversation.userB, foreign.messageId)).toEqual({ targetFound: false });
      expect(await db.messages.markRead(conversation.conversationId, conversation.userB, foreign.messageId)).toEqual({ targetFound: false });
      const state = await marks([foreign.messageId]);
      expect(state.get(foreign.messageId)).toMatchObject({ delivered_at: null, read_at: null });
    });
  });

  describe('markRead', () => {
    it('is a high-water mark, marks delivered too, and only the other participant\'s messages', async () => {
      const conversation = await createConversation(db);
      const { userA: a, userB: b } = conversation;
      const m1 = (await sendMessage(db, conversation, b)).message;
      const m2 = (await sendMessage(db, conversation, b)).message;
      const m3 = (await sendMessage(db, conversation, a)).message;
      const m4 = (await sendMessage(db, conversation, b)).message;
      const all = [m1, m2, m3, m4].map((m) => m.messageId);

      await db.messages.markDelivered(conversation.conversationId, a, m1.messageId);
      const delivered1 = (await marks(all)).get(m1.messageId)!.delivered_at!.getTime();

      const upTo2 = await db.messages.markRead(conversation.conversationId, a, m2.messageId);
      expect(upTo2.targetFound).toBe(true);
      expect(upTo2.newest?.id).toBe(m2.messageId);
      let state = await marks(all);
      expect(state.get(m1.messageId)?.read_at).not.toBeNull();
      expect(state.get(m2.messageId)?.read_at?.getTime()).toBe(upTo2.newest?.at.getTime());
      // Reading implies delivery; an earlier delivery time is kept.
      expect(state.get(m1.messageId)?.delivered_at?.getTime()).toBe(delivered1);
      expect(state.get(m2.messageId)?.delivered_at).not.toBeNull();
      expect(state.get(m4.messageId)).toMatchObject({ delivered_at: null, read_at: null });

      const read1 = state.get(m1.messageId)!.read_at!.getTime();
      expect(await db.messages.markRead(conversation.conversationId, a, m1.messageId)).toEqual({ targetFound: true });
      state = await marks(all);
      expect(state.get(m1.messageId)?.read_at?.getTime()).toBe(read1);

      // Targeting a's own newer message marks b's messages up to it, never a's own.
      const upTo3 = await db.messages.markRead(conversation.conversationId, a, m3.messageId);
      expect(upTo3).toEqual({ targetFound: true });
      const upTo4 = await db.messages.markRead(conversation.conversationId, a, m4.messageId);
      expect(upTo4.newest?.id).toBe(m4.messageId);
      state = await marks(all);
      expect(state.get(m4.messageId)?.read_at).not.toBeNull();
      expect(state.get(m4.messageId)?.delivered_at).not.toBeNull();
      expect(state.get(m3.messageId)).toMatchObject({ delivered_at: null, read_at: null });
      expect(state.get(m1.messageId)?.read_at?.getTime()).toBe(read1);

      // A delivery receipt after the read changes nothing.
      expect(await db.messages.markDelivered(conversation.conversationId, a, m4.messageId)).toEqual({ targetFound: true });
    });

    it('does not let a stranger mark anything', async () => {
      const conversation = await createConversation(db);
      const m1 = (await sendMessage(db, conversation, conversation.userA)).message;
      const stranger = userId('stranger');
      expect(await db.messages.markRead(conversation.conversationId, stranger, m1.messageId)).toEqual({ targetFound: true });
      expect(await db.messages.markDelivered(conversation.conversationId, stranger, m1.messageId)).toEqual({ targetFound: true });
      expect((await marks([m1.messageId])).get(m1.messageId)).toMatchObject({ delivered_at: null, read_at: null });
    });
  });

  describe('receipts follow their rules (src/messages/receipts.ts)', () => {
    /** userB's watermarks and unread counter, from the conversation row. */
    async function userBReceipts(conversation: TestConversation) {
      const row = await db.sql.query<{ delivered: number; read: number; unread: number }>(
        'SELECT b_delivered_seq AS delivered, b_read_seq AS read, b_unread AS unread FROM conversation WHERE id = $1',
        [conversation.conversationId],
      );
      return row.rows[0];
    }

    it('move the row\'s watermarks and unread counter as applyReceipt does, and stamp exactly its range', async () => {
      const conversation = await createConversation(db);
      const { userA: a, userB: b } = conversation;
      const sent: Message[] = [];
      for (const sender of [a, a, b, a, a, b, a, a]) sent.push((await sendMessage(db, conversation, sender)).message);
      const toB = sent.filter((message) => message.senderId === a);
      const receipts: Array<[ReceiptKind, number]> = [
        ['delivered', 2],
        ['read', 1],
        ['delivered', 1],
        ['read', 5],
        ['delivered', 4],
        ['read', 3],
        ['delivered', 7],
        ['read', 6],
        ['read', 8],
        ['delivered', 8],
      ];
      let expected: Watermarks = { deliveredSeq: 0, readSeq: 0 };
      for (const [kind, seq] of receipts) {
        const before = await marks(toB.map((message) => message.messageId));
        const { next, stamps } = applyReceipt(expected, kind, seq);
        const target = sent[seq - 1]!.messageId;
        const outcome = kind === 'read' ? await db.messages.markRead(conversation.conversationId, b, target) : await db.messages.markDelivered(conversation.conversationId, b, target);
        const newlyStamped = toB.filter((m) => stamps && m.seq > stamps.after && m.seq <= stamps.upTo && before.get(m.messageId)![`${kind}_at`] === null);
        expect(outcome.newest?.id, `${kind} ${seq}`).toBe(newlyStamped.at(-1)?.messageId);
        expected = next;

        expect(await userBReceipts(conversation), `${kind} ${seq}`).toEqual({ delivered: expected.deliveredSeq, read: expected.readSeq, unread: toB.filter((m) => m.seq > expected.readSeq).length });
        const after = await marks(sent.map((message) => message.messageId));
        for (const message of sent) {
          const addressedToB = message.senderId === a;
          expect(after.get(message.messageId)!.delivered_at !== null, `delivered ${message.seq} after ${kind} ${seq}`).toBe(addressedToB && message.seq <= expected.deliveredSeq);
          expect(after.get(message.messageId)!.read_at !== null, `read ${message.seq} after ${kind} ${seq}`).toBe(addressedToB && message.seq <= expected.readSeq);
        }
      }
    });
    it('end where applyReceipt ends whatever order concurrent receipts commit in, each message reported once per kind', async () => {
      const conversation = await createConversation(db);
      const { userA: a, userB: b } = conversation;
      const sent: Message[] = [];
      for (let i = 0; i < 12; i++) sent.push((await sendMessage(db, conversation, i % 4 === 3 ? b : a)).message);
      const receipts: Array<[ReceiptKind, number]> = [3, 9, 5, 12, 1, 7, 10, 2, 11, 6, 8, 4].map((seq, i) => [i % 3 === 0 ? 'read' : 'delivered', seq]);
      const outcomes = await Promise.all(
        receipts.map(([kind, seq]) => {
          const target = sent[seq - 1]!.messageId;
          return kind === 'read' ? db.messages.markRead(conversation.conversationId, b, target) : db.messages.markDelivered(conversation.conversationId, b, target);
        }),
      );
      const expected = receipts.reduce<Watermarks>((current, [kind, seq]) => applyReceipt(current, kind, seq).next, { deliveredSeq: 0, readSeq: 0 });
      const toB = sent.filter((message) => message.senderId === a);
      expect(await userBReceipts(conversation)).toEqual({ delivered: expected.deliveredSeq, read: expected.readSeq, unread: toB.filter((m) => m.seq > expected.readSeq).length });
      for (const kind of ['delivered', 'read'] as const) {
        const reported = outcomes.flatMap((outcome, i) => (receipts[i]![0] === kind && outcome.newest ? [outcome.newest.id] : []));
        expect(new Set(reported).size, kind).toBe(reported.length);
      }
    });
  });

  describe('undelivered', () => {
    it('returns the messages addressed to the user and not yet delivered, oldest first, within the limit', async () => {
      const me = userId('me');
      const withX = await createConversation(db, me, userId('x'));
      const withY = await createConversation(db, me, userId('y'));
      const expected: Message[] = [];
      // Alternate between conversations; the pauses keep the millisecond timestamps apart, so
      // that "oldest first" has one answer.
      for (let i = 0; i < 6; i++) {
        const conversation = i % 2 === 0 ? withX : withY;
        expected.push((await sendMessage(db, conversation, conversation.other(me))).message);
        await sendMessage(db, conversation, me); // addressed to the other side: never in my catch-up
        await sleep(3);
      }
      const all = await db.messages.undelivered(me, 100);
      expect(all.map((row) => row.messageId)).toEqual(expected.map((row) => row.messageId));
      expect(all[0]).toEqual(expected[0]);

      const limited = await db.messages.undelivered(me, 4);
      expect(limited.map((row) => row.messageId)).toEqual(expected.slice(0, 4).map((row) => row.messageId));

      // Once delivered (here: the first two of withX), they leave the backlog.
      await db.messages.markDelivered(withX.conversationId, me, expected[2].messageId);
      const rest = await db.messages.undelivered(me, 100);
      expect(rest.map((row) => row.messageId)).toEqual([expected[1], expected[3], expected[4], expected[5]].map((row) => row.messageId));

      // Reading counts as delivery.
      await db.messages.markRead(withY.conversationId, me, expected[5].messageId);
      expect((await db.messages.undelivered(me, 100)).map((row) => row.messageId)).toEqual([expected[4].messageId]);
    });

    it('returns nothing for a user without a backlog', async () => {
      expect(await db.messages.undelivered(userId('nobody'), 10)).toEqual([]);
    });
  });

  describe('history', () => {
    it('pages newest first by keyset, each message exactly once', async () => {
      const conversation = await createConversation(db);
      const other = await createConversation(db);
      for (let i = 0; i < 7; i++) {
        await sendMessage(db, conversation, i % 2 ? conversation.userA : conversation.userB);
        await sendMessage(db, other, other.userA);
      }
      const seqs = (rows: Message[]) => rows.map((row) => row.seq);
      const page1 = await db.messages.history(conversation.conversationId, undefined, 3);
      expect(seqs(page1)).toEqual([7, 6, 5]);
      expect(page1.every((row) => row.conversationId === conversation.conversationId)).toBe(true);
      expect(seqs(await db.messages.history(conversation.conversationId, 5, 3))).toEqual([4, 3, 2]);
      expect(seqs(await db.messages.history(conversation.conversationId, 2, 3))).toEqual([1]);
      expect(await db.messages.history(conversation.conversationId, 1, 3)).toEqual([]);
      expect(seqs(await db.messages.history(conversation.conversationId, undefined, 100))).toEqual([7, 6, 5, 4, 3, 2, 1]);
    });

    it('visits every message once while new ones arrive during the walk', async () => {
      const conversation = await createConversation(db);
      for (let i = 0; i < 10; i++) await sendMessage(db, conversation, conversation.userA);
      const seen: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await db.messages.history(conversation.conversationId, before, 4);
        seen.push(...page.map((row) => row.seq));
        if (page.length < 4) break;
        before = page.at(-1)!.seq;
        await sendMessage(db, conversation, conversation.userB); // lands above the cursor
      }
      expect(seen).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    });

    it('returns history messages exactly as the send returned them', async () => {
      const conversation = await createConversation(db);
      const cmid = clientMessageId();
      const sent = (await sendMessage(db, conversation, conversation.userA, { clientMessageId: cmid })).message;
      const [row] = await db.messages.history(conversation.conversationId, undefined, 1);
      expect(row).toEqual(sent);
      expect(typeof row.seq).toBe('number');
    });
  });
});
