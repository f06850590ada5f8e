import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../infrastructure/prisma/prisma.service.js';
import { isUniqueViolation } from '../infrastructure/prisma/unique-violation.js';
import { MESSAGE_COLUMNS, type MessageRow } from '../common/message-row.js';

interface Mark {
  set: Prisma.Sql;
  unmarked: Prisma.Sql;
  column: Prisma.Sql;
}

/** The SQL of each receipt kind: constants, never input. Reading a message delivers it too. */
const MARKS: Record<'delivered' | 'read', Mark> = {
  delivered: {
    set: Prisma.raw('delivered_at = statement_timestamp()'),
    unmarked: Prisma.raw('m.delivered_at IS NULL'),
    column: Prisma.raw('m.delivered_at'),
  },
  read: {
    set: Prisma.raw('read_at = statement_timestamp(), delivered_at = COALESCE(m.delivered_at, statement_timestamp())'),
    unmarked: Prisma.raw('m.read_at IS NULL'),
    column: Prisma.raw('m.read_at'),
  },
};

const columns = Prisma.raw(MESSAGE_COLUMNS.replace(/\bid\b/, 'id::text').replace('conversation_id', 'conversation_id::text'));

export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  recipientId: string;
  text: string;
  clientMessageId?: string;
}

export type InsertOutcome = { created: true; row: MessageRow } | { created: false; row: MessageRow };

/** The newest message a receipt newly marked, or none when the mark had already passed. */
export interface MarkOutcome {
  targetFound: boolean;
  newest?: { id: string; at: Date };
}

@Injectable()
export class MessagesRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Stores a message with the conversation's next seq in one statement: the conversation row is
   * locked while its counter moves, so seq is gap-free, and a failed insert (a repeated
   * clientMessageId) rolls the counter back with it.
   */
  async insert(message: NewMessage): Promise<InsertOutcome> {
    try {
      const rows = await this.prisma.$queryRaw<Array<{ seq: number; created_at: Date }>>`
        WITH c AS (
          UPDATE conversation SET last_seq = last_seq + 1, updated_at = GREATEST(updated_at, clock_timestamp())
          WHERE id = ${message.conversationId}::uuid
          RETURNING last_seq, updated_at
        )
        INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
        SELECT ${message.id}::uuid, ${message.conversationId}::uuid, c.last_seq, ${message.senderId},
               ${message.recipientId}, ${message.text}, ${message.clientMessageId ?? null}, c.updated_at
        FROM c
        RETURNING seq, created_at`;
      const stored = rows[0];
      if (!stored) throw new Error(`conversation ${message.conversationId} vanished while sending`);
      return { created: true, row: newRow(message, stored.seq, stored.created_at) };
    } catch (error) {
      if (!message.clientMessageId || !isUniqueViolation(error, 'message_sender_client_message_id_key')) throw error;
      const original = await this.findByClientMessageId(message.senderId, message.clientMessageId);
      if (!original) throw error;
      return { created: false, row: original };
    }
  }

  /**
   * Stores several messages in one statement, all or nothing. Conversation rows are locked in id
   * order (so concurrent batches cannot deadlock), each counter moves by its number of messages,
   * and the messages take the freed seq values in input order: gap-free, as in `insert`. A repeated
   * clientMessageId fails the whole batch; the caller then falls back to `insert` one by one.
   */
  async insertMany(messages: NewMessage[]): Promise<MessageRow[]> {
    const rows = await this.prisma.$queryRaw<Array<{ id: string; seq: number; created_at: Date }>>`
      WITH input AS (
        SELECT * FROM unnest(
          ${messages.map((m) => m.id)}::uuid[], ${messages.map((m) => m.conversationId)}::uuid[],
          ${messages.map((m) => m.senderId)}::text[], ${messages.map((m) => m.recipientId)}::text[],
          ${messages.map((m) => m.text)}::text[], ${messages.map((m) => m.clientMessageId ?? null)}::text[]
        ) WITH ORDINALITY AS t(id, conversation_id, sender_id, recipient_id, text, client_message_id, ord)
      ), counts AS (
        SELECT conversation_id, count(*)::int AS n FROM input GROUP BY conversation_id
      ), locked AS MATERIALIZED (
        SELECT c.id FROM conversation c WHERE c.id IN (SELECT conversation_id FROM counts) ORDER BY c.id FOR UPDATE
      ), bumped AS (
        UPDATE conversation c
        SET last_seq = c.last_seq + counts.n, updated_at = GREATEST(c.updated_at, clock_timestamp())
        FROM locked JOIN counts ON counts.conversation_id = locked.id
        WHERE c.id = locked.id
        RETURNING c.id, c.last_seq - counts.n AS base_seq, c.updated_at
      )
      INSERT INTO message (id, conversation_id, seq, sender_id, recipient_id, text, client_message_id, created_at)
      SELECT i.id, i.conversation_id,
             b.base_seq + row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord),
             i.sender_id, i.recipient_id, i.text, i.client_message_id, b.updated_at
      FROM input i JOIN bumped b ON b.id = i.conversation_id
      RETURNING id::text, seq, created_at`;
    const stored = new Map(rows.map((row) => [row.id, row]));
    return messages.map((message) => {
      const row = stored.get(message.id);
      if (!row) throw new Error(`conversation ${message.conversationId} vanished while sending`);
      return newRow(message, row.seq, row.created_at);
    });
  }

  async findByClientMessageId(senderId: string, clientMessageId: string): Promise<MessageRow | undefined> {
    const rows = await this.prisma.$queryRaw<MessageRow[]>`
      SELECT ${columns} FROM message WHERE sender_id = ${senderId} AND client_message_id = ${clientMessageId}`;
    return rows[0];
  }

  /** Newest first, strictly older than `beforeSeq`: a keyset walk down the (conversation_id, seq) index. */
  async history(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessageRow[]> {
    return this.prisma.$queryRaw<MessageRow[]>`
      SELECT ${columns} FROM message
      WHERE conversation_id = ${conversationId}::uuid AND seq < ${beforeSeq ?? 2_147_483_647}
      ORDER BY seq DESC LIMIT ${limit}`;
  }

  /**
   * Messages addressed to the user and not yet marked delivered, oldest first, in the order of the
   * partial (recipient_id, created_at, conversation_id, seq) index. The ORDER BY is qualified: a bare
   * `conversation_id` would name the selected `conversation_id::text`, an order the index cannot give,
   * and add a sort step over the backlog.
   */
  async undelivered(recipientId: string, limit: number): Promise<MessageRow[]> {
    return this.prisma.$queryRaw<MessageRow[]>`
      SELECT ${columns} FROM message
      WHERE recipient_id = ${recipientId} AND delivered_at IS NULL
      ORDER BY message.created_at, message.conversation_id, message.seq LIMIT ${limit}`;
  }

  /** Marks the recipient's messages up to and including the target as delivered. */
  markDelivered(conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    return this.mark(MARKS.delivered, conversationId, recipientId, targetMessageId);
  }

  /** Marks the recipient's messages up to and including the target as read, and delivered if not yet. */
  markRead(conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    return this.mark(MARKS.read, conversationId, recipientId, targetMessageId);
  }

  /**
   * One receipt statement: finds the target's seq, stamps every unmarked message addressed to the
   * recipient up to it with the statement's one timestamp, and returns the newest one stamped.
   */
  private async mark(kind: Mark, conversationId: string, recipientId: string, targetMessageId: string): Promise<MarkOutcome> {
    const rows = await this.prisma.$queryRaw<Array<{ target_found: boolean; id: string | null; at: Date | null }>>`
      WITH target AS (
        SELECT seq FROM message WHERE id = ${targetMessageId}::uuid AND conversation_id = ${conversationId}::uuid
      ), marked AS (
        UPDATE message m SET ${kind.set}
        FROM target
        WHERE m.conversation_id = ${conversationId}::uuid AND m.recipient_id = ${recipientId}
          AND ${kind.unmarked} AND m.seq <= target.seq
        RETURNING m.id, m.seq, ${kind.column} AS at
      )
      SELECT EXISTS (SELECT 1 FROM target) AS target_found, newest.id::text, newest.at
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (SELECT id, at FROM marked ORDER BY seq DESC LIMIT 1) newest ON true`;
    return toOutcome(rows[0]);
  }
}

function toOutcome(row: { target_found: boolean; id: string | null; at: Date | null } | undefined): MarkOutcome {
  if (!row?.target_found) return { targetFound: false };
  return row.id && row.at ? { targetFound: true, newest: { id: row.id, at: row.at } } : { targetFound: true };
}

function newRow(message: NewMessage, seq: number, createdAt: Date): MessageRow {
  return {
    id: message.id,
    conversation_id: message.conversationId,
    seq,
    sender_id: message.senderId,
    text: message.text,
    client_message_id: message.clientMessageId ?? null,
    created_at: createdAt,
    delivered_at: null,
    read_at: null,
  };
}
