import { Inject, Injectable } from '@nestjs/common';
import type { Message } from '@platform/messaging-client/contract';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { HotSql, isUniqueViolation, statement, type HotStatement } from '../infrastructure/prisma/hot-sql.js';
import { ReadSql } from '../infrastructure/prisma/read-sql.js';
import { decodeMessage, iso, messageColumns } from './message-row.js';
import { RECEIPT_RULES, type ReceiptKind } from './receipts.js';
import type { BatchStore, InsertOutcome, NewMessage } from './send-pipeline.js';

/** The newest message a receipt newly marked, or none when the mark had already passed. */
export interface MarkOutcome {
  targetFound: boolean;
  newest?: { id: string; at: Date };
}

/**
 * The send statement's inputs are arrays bound to unnest(), in this order: id, conversation_id,
 * sender_id, recipient_id, text, client_message_id, and whether the recipient is user_a.
 *
 * `many`: a batch of any conversations. Conversation rows are locked in id order (concurrent batches
 * cannot deadlock); each counter moves by its number of messages, which take the freed seq values in
 * input order: gap-free.
 * `one`: a batch of one conversation (at low and moderate rates, most batches), the same writes in a
 * plan with no grouping, sorting or join: the conversation row is updated through its primary key
 * and the messages take base + their position. It is the cheaper of the two for PostgreSQL, and
 * `many`'s generic plan also hash-joins the whole conversation table while that table is small
 * (docs/performance.md, "gRPC read path, send statement, p99 baseline").
 */
function insertBatchStatement(shape: 'many' | 'one', events: boolean) {
  // Each conversation of the batch, with its `counts` (n messages, to_a of them addressed to user_a).
  const bump = `UPDATE conversation c
     SET last_seq = c.last_seq + counts.n,
         a_unread = c.a_unread + counts.to_a,
         b_unread = c.b_unread + counts.n - counts.to_a,
         updated_at = GREATEST(c.updated_at, clock_timestamp())`;
  const bumpReturning = 'RETURNING c.id, c.last_seq - counts.n AS base_seq, c.updated_at';
  const head =
    shape === 'many'
      ? `WITH input AS (
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[]) WITH ORDINALITY
       AS t(id, conversation_id, sender_id, recipient_id, text, client_message_id, to_a, ord)
   ), counts AS (
     SELECT conversation_id, count(*)::int AS n, (count(*) FILTER (WHERE to_a))::int AS to_a FROM input GROUP BY conversation_id
   ), locked AS MATERIALIZED (
     SELECT c.id FROM conversation c WHERE c.id IN (SELECT conversation_id FROM counts) ORDER BY c.id FOR UPDATE
   ), bumped AS (
     ${bump} FROM locked JOIN counts ON counts.conversation_id = locked.id WHERE c.id = locked.id ${bumpReturning}
   )`
      : `WITH input AS (
     SELECT * FROM unnest($1::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
       AS t(id, sender_id, recipient_id, text, client_message_id, ord)
   ), counts AS (
     SELECT cardinality($1::uuid[]) AS n, (SELECT count(*) FROM unnest($7::bool[]) AS to_a WHERE to_a)::int AS to_a
   ), bumped AS (
     ${bump} FROM counts WHERE c.id = ($2::uuid[])[1] ${bumpReturning}
   )`;
  const insert =
    shape === 'many'
      ? `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
   SELECT i.id, i.conversation_id, b.base_seq + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord),
          i.sender_id, i.recipient_id, i.text, i.client_message_id, b.updated_at
   FROM input i JOIN bumped b ON b.id = i.conversation_id`
      : `INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
   SELECT i.id, b.id, b.base_seq + i.ord, i.sender_id, i.recipient_id, i.text, i.client_message_id, b.updated_at
   FROM input i CROSS JOIN bumped b`;
  const name = shape === 'many' ? 'message_insert_batch' : 'message_insert_one_conversation';
  if (!events) return statement(name, `${head} ${insert} RETURNING id::text, seq, ${iso('created_at')}`);
  // With events: the batch's message.sent events, written by the same statement (all or nothing:
  // a repeated clientMessageId fails the whole statement, and so writes no event) as one outbox row
  // of their message ids, in seq order within each conversation; the relay builds the events from
  // the message rows. The row's position is taken after the conversation rows were locked
  // (locked → bumped → inserted): within a conversation, position order is commit order
  // (docs/events.md).
  return statement(
    `${name}_with_events`,
    `${head}, inserted AS (
       ${insert}
       RETURNING id, conversation_id, seq, created_at
     ), events AS (
       INSERT INTO outbox_event (subject, events, message_ids)
       SELECT 'messaging.v1.message.sent', count(*), array_agg(id ORDER BY conversation_id, seq) FROM inserted HAVING count(*) > 0
     )
     SELECT id::text, seq, ${iso('created_at')} FROM inserted`,
  );
}

/**
 * Stores a batch in one statement, all or nothing (`insertBatchStatement`). The conversation row is
 * updated in place: last_seq, the recipients' unread counters and updated_at (the one indexed column,
 * for the activity order of lists). A repeated clientMessageId fails the whole statement on its
 * unique index, moving no counter (see `insertOne`). The variants with events also write the
 * outbox; without EVENT_BUS_URL the statement does no outbox work at all.
 */
const INSERT_BATCH = {
  plain: { many: insertBatchStatement('many', false), one: insertBatchStatement('one', false) },
  withEvents: { many: insertBatchStatement('many', true), one: insertBatchStatement('one', true) },
};

const FIND_BY_CLIENT_MESSAGE_ID = statement(
  'message_by_client_message_id',
  `SELECT ${messageColumns('m')} FROM message m
   WHERE m.sender_id = $1 AND m.client_message_id = $2 AND m.client_message_id IS NOT NULL`,
);

/**
 * Newest first, strictly older than $2. seq is gap-free, so the page is exactly the range
 * [$2 - $3, $2): the index conditions bound the rows read to the page, whatever plan the statistics
 * of the moment suggest (docs/query-plans.md); the LIMIT steers the planner to the backward index walk.
 */
export const HISTORY_BEFORE = statement(
  'message_history_before',
  `SELECT ${messageColumns('m')} FROM message m
   WHERE m.conversation_id = $1 AND m.seq < $2 AND m.seq >= $2::int - $3::int
   ORDER BY m.seq DESC LIMIT $3`,
);

/** The newest page: the range ends at the conversation's last_seq, read in the same snapshot. */
export const HISTORY_LATEST = statement(
  'message_history_latest',
  `SELECT ${messageColumns('m')} FROM message m
   WHERE m.conversation_id = $1
     AND m.seq > (SELECT c.last_seq FROM conversation c WHERE c.id = $1) - $2::int
   ORDER BY m.seq DESC LIMIT $2`,
);

/**
 * Messages addressed to the user and not yet marked delivered, oldest first, in the order of the
 * partial (recipient_id, created_at, conversation_id, seq) index.
 */
const UNDELIVERED = statement(
  'message_undelivered',
  `SELECT ${messageColumns('m')} FROM message m
   WHERE m.recipient_id = $1 AND m.delivered_at IS NULL
   ORDER BY m.created_at, m.conversation_id, m.seq LIMIT $2`,
);

/**
 * One receipt statement ($1 conversation, $2 the participant marking, $3 the target message), built
 * from the receipt's rule (`RECEIPT_RULES` in receipts.ts) to do what `applyReceipt` does, atomically:
 * stamps every message addressed to the participant between their watermark of the receipt's kind
 * and the target with the statement's one timestamp, moves each watermark the rule moves (GREATEST:
 * never backwards, whatever commits concurrently) and, when the rule counts as read, the unread
 * counter by the number of messages newly stamped; returns the newest message stamped. Lookups are
 * by unique keys and ranges of them, so the statement reads only what it newly marks whatever the
 * statistics say (test/integration/fresh-table-plans.spec.ts).
 */
function receiptStatement(kind: ReceiptKind, events: boolean) {
  const rule = RECEIPT_RULES[kind];
  // The range holds only messages without the receipt's own mark; the marks it implies keep an earlier time.
  const set = rule.moves.map((mark) => (mark === kind ? `${mark}_at = statement_timestamp()` : `${mark}_at = COALESCE(m.${mark}_at, statement_timestamp())`)).join(', ');
  const onOwnSide = (column: string, moved: (current: string) => string) =>
    `a_${column} = CASE WHEN p.is_a THEN ${moved(`c.a_${column}`)} ELSE c.a_${column} END,
     b_${column} = CASE WHEN p.is_a THEN c.b_${column} ELSE ${moved(`c.b_${column}`)} END`;
  const counterMoves = [
    ...rule.moves.map((mark) => onOwnSide(`${mark}_seq`, (current) => `GREATEST(${current}, t.seq)`)),
    ...(rule.countsAsRead ? [onOwnSide('unread', (current) => `${current} - n.count`)] : []),
  ].join(',\n         ');
  // With events: one message.<kind> when something was marked, written after `moved` locked the
  // conversation row (its position is then in commit order, docs/events.md). A read that also marks
  // messages delivered writes message.read only.
  const participant = kind === 'read' ? 'readerId' : 'recipientId';
  const eventTail = `, newest AS (
       SELECT id, seq, at FROM marked ORDER BY seq DESC LIMIT 1
     ), event AS (
       INSERT INTO outbox_event (id, conversation_id, subject, payload)
       SELECT e.event_id, $1, 'messaging.v1.message.${kind}',
              json_build_object('eventId', e.event_id, 'occurredAt', ${iso('e.at')}, 'conversationId', $1::text, '${participant}', $2::text,
                                'messageId', e.id, 'seq', e.seq, '${kind}At', ${iso('e.at')})
       FROM (SELECT gen_random_uuid() AS event_id, newest.* FROM newest, moved OFFSET 0) e
     )
     SELECT EXISTS (SELECT 1 FROM t), newest.id::text, newest.at
     FROM (SELECT 1) AS one LEFT JOIN newest ON true`;
  const plainTail = `
     SELECT EXISTS (SELECT 1 FROM t), newest.id::text, newest.at
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (SELECT id, at FROM marked ORDER BY seq DESC LIMIT 1) newest ON true`;
  return statement(
    events ? `message_mark_${kind}_with_events` : `message_mark_${kind}`,
    `WITH p AS (
       SELECT c.id, c.user_a = $2 AS is_a,
              CASE WHEN c.user_a = $2 THEN c.a_${kind}_seq ELSE c.b_${kind}_seq END AS mark
       FROM conversation c WHERE c.id = $1 AND $2 IN (c.user_a, c.user_b)
     ), t AS (
       /* by primary key alone: OFFSET 0 keeps the planner from merging in the conversation test */
       SELECT target.seq FROM (SELECT seq, conversation_id FROM message WHERE id = $3 OFFSET 0) target WHERE target.conversation_id = $1
     ), marked AS (
       /* scalar subqueries: the range is an index condition on (conversation_id, seq), never a join filter */
       UPDATE message m SET ${set}
       WHERE m.conversation_id = $1 AND m.seq > (SELECT mark FROM p) AND m.seq <= (SELECT seq FROM t)
         AND m.recipient_id = $2 AND m.${kind}_at IS NULL
       RETURNING m.id, m.seq, m.${kind}_at AS at
     ), n AS (
       SELECT count(*)::int AS count FROM marked
     ), moved AS (
       UPDATE conversation c SET ${counterMoves}
       FROM p, t, n
       WHERE c.id = $1 AND (t.seq > p.mark OR n.count > 0)
       RETURNING c.id
     )${events ? eventTail : plainTail}`,
  );
}
const MARK = {
  delivered: { plain: receiptStatement('delivered', false), withEvents: receiptStatement('delivered', true) },
  read: { plain: receiptStatement('read', false), withEvents: receiptStatement('read', true) },
};

const CLIENT_MESSAGE_ID_KEY = 'message_sender_client_message_id_key';

@Injectable()
export class MessagesRepository implements BatchStore {
  private readonly insertStatements: { many: HotStatement; one: HotStatement };
  private readonly markStatements: { delivered: HotStatement; read: HotStatement };

  constructor(
    private readonly sql: HotSql,
    /** History reads: the replica when DATABASE_READ_URL is set (CONTRACT §4.2); catch-up and writes stay on `sql`. */
    private readonly reads: ReadSql,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    // The platform events are recorded only when there is an event bus (CONTRACT §1, §8).
    const variant = config.eventBusUrl ? 'withEvents' : 'plain';
    this.insertStatements = INSERT_BATCH[variant];
    this.markStatements = { delivered: MARK.delivered[variant], read: MARK.read[variant] };
  }

  /**
   * Stores the messages (of any conversations) in one statement and returns, in input order, each
   * one as stored. A unique violation (a clientMessageId stored before) fails the whole batch:
   * `insertOne` then sorts originals from repeats.
   */
  async insertBatch(messages: NewMessage[]): Promise<InsertOutcome[]> {
    const conversationId = messages[0]?.conversationId;
    const shape = messages.every((m) => m.conversationId === conversationId) ? 'one' : 'many';
    const rows = await this.sql.rows(this.insertStatements[shape], [
      messages.map((m) => m.id),
      messages.map((m) => m.conversationId),
      messages.map((m) => m.senderId),
      messages.map((m) => m.recipientId),
      messages.map((m) => m.text),
      messages.map((m) => m.clientMessageId ?? null),
      messages.map((m) => m.recipientIsUserA),
    ]);
    const stored = new Map(rows.map((row) => [row[0] as string, row]));
    return messages.map((input) => {
      const row = stored.get(input.id);
      if (!row) throw new Error(`conversation ${input.conversationId} vanished while sending`);
      return { created: true, message: storedMessage(input, row[1] as number, row[2] as string) };
    });
  }

  /** The failure of a batch that `insertOne` sorts out: a clientMessageId committed concurrently. */
  isRetryableOneByOne(error: unknown): boolean {
    return isUniqueViolation(error, CLIENT_MESSAGE_ID_KEY);
  }

  /** One message alone: a concurrent original of its clientMessageId is returned instead. */
  async insertOne(message: NewMessage): Promise<InsertOutcome> {
    try {
      const [outcome] = await this.insertBatch([message]);
      return outcome!;
    } catch (error) {
      if (message.clientMessageId === undefined || !this.isRetryableOneByOne(error)) throw error;
      const original = await this.findByClientMessageId(message.senderId, message.clientMessageId);
      if (!original) throw error;
      return { created: false, message: original };
    }
  }

  async findByClientMessageId(senderId: string, clientMessageId: string): Promise<Message | undefined> {
    const [row] = await this.sql.rows(FIND_BY_CLIENT_MESSAGE_ID, [senderId, clientMessageId]);
    return row && decodeMessage(row);
  }

  /** Up to `limit` messages older than `beforeSeq` (or the newest), newest first. */
  async history(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<Message[]> {
    const rows =
      beforeSeq === undefined
        ? await this.reads.rows('history', HISTORY_LATEST, [conversationId, limit])
        : await this.reads.rows('history', HISTORY_BEFORE, [conversationId, beforeSeq, limit]);
    return rows.map((row) => decodeMessage(row)!);
  }

  async undelivered(recipientId: string, limit: number): Promise<Message[]> {
    const rows = await this.sql.rows(UNDELIVERED, [recipientId, limit]);
    return rows.map((row) => decodeMessage(row)!);
  }

  /** Marks the recipient's messages up to and including the target as delivered. */
  markDelivered(conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    return this.mark(this.markStatements.delivered, conversationId, recipientId, targetMessageId);
  }

  /** Marks the recipient's messages up to and including the target as read, and delivered if not yet. */
  markRead(conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    return this.mark(this.markStatements.read, conversationId, recipientId, targetMessageId);
  }

  private async mark(kind: HotStatement, conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    const [row] = await this.sql.rows(kind, [conversationId, recipientId, targetMessageId]);
    const [targetFound, id, at] = (row ?? [false, null, null]) as [boolean, string | null, Date | null];
    if (!targetFound) return { targetFound: false };
    return id && at ? { targetFound: true, newest: { id, at } } : { targetFound: true };
  }
}

/** A message as a send stored it: nothing delivered or read yet. */
function storedMessage(input: NewMessage, seq: number, timestamp: string): Message {
  const message: Message = { messageId: input.id, conversationId: input.conversationId, senderId: input.senderId, text: input.text, seq, timestamp };
  if (input.clientMessageId !== undefined) message.clientMessageId = input.clientMessageId;
  return message;
}
