import { Inject, Injectable } from '@nestjs/common';
import type { Conversation, ConversationSummary } from '@platform/messaging-client/contract';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { Prisma } from '../generated/prisma/client.js';
import { statement } from '../infrastructure/prisma/hot-sql.js';
import { PrismaService } from '../infrastructure/prisma/prisma.service.js';
import { ReadSql } from '../infrastructure/prisma/read-sql.js';
import { decodeMessage, iso, messageColumns } from '../messages/message-row.js';

/** A conversation's columns as Prisma returns them; the repository's callers get a `Conversation`. */
interface ConversationRow {
  id: string;
  user_a: string;
  user_b: string;
  created_at: Date;
}

/** The contract's Conversation of a row: `participantIds` is the stored pair, in order ([user_a, user_b]). */
function toConversation(row: ConversationRow): Conversation {
  return { conversationId: row.id, participantIds: [row.user_a, row.user_b], createdAt: row.created_at.toISOString() };
}

export interface ActivityCursor {
  updatedAt: Date;
  conversationId: string;
}

/**
 * One page of a user's conversations, most recent activity first ($1 user, $2/$3 the cursor's
 * (updated_at, id), $4 limit). Each side of the pair has its own (user, updated_at, id) index; the
 * two ordered scans are merged and cut to the page, which is then decorated with the caller's unread
 * counter and the last message (one (conversation_id, seq) lookup each).
 */
export const LIST_FOR_USER = statement(
  'conversation_list_for_user',
  `SELECT c.id::text, c.user_a, c.user_b, ${iso('c.created_at')}, ${iso('c.updated_at')},
          CASE WHEN c.user_a = $1 THEN c.a_unread ELSE c.b_unread END,
          ${messageColumns('m')}
   FROM (
     SELECT * FROM (
       (SELECT * FROM conversation
         WHERE user_a = $1 AND (updated_at, id) < ($2::timestamptz, $3::uuid)
         ORDER BY updated_at DESC, id DESC LIMIT $4)
       UNION ALL
       (SELECT * FROM conversation
         WHERE user_b = $1 AND (updated_at, id) < ($2::timestamptz, $3::uuid)
         ORDER BY updated_at DESC, id DESC LIMIT $4)
     ) both_sides
     ORDER BY updated_at DESC, id DESC
     LIMIT $4
   ) c
   LEFT JOIN message m ON m.conversation_id = c.id AND m.seq = c.last_seq
   ORDER BY c.updated_at DESC, c.id DESC`,
);

/** A conversation row (alias) as the contract's JSON object: the payload of conversation.started. */
function conversationJson(alias: string): string {
  return `json_build_object('conversationId', ${alias}.id, 'participantIds', json_build_array(${alias}.user_a, ${alias}.user_b), 'createdAt', ${iso(`${alias}.created_at`)})`;
}

/**
 * conversation.started, written by the statement that creates the conversation (nothing when the
 * pair existed: the INSERT returned no row) when there is an event bus. The event is the first of
 * its conversation: no other transaction sees the row before this one commits.
 */
const STARTED_EVENT = Prisma.raw(`, started AS (
  INSERT INTO outbox_event (id, conversation_id, subject, payload)
  SELECT e.event_id, e.id, 'messaging.v1.conversation.started',
         json_build_object('eventId', e.event_id, 'occurredAt', ${iso('e.created_at')}, 'conversation', ${conversationJson('e')})
  FROM (SELECT gen_random_uuid() AS event_id, inserted.* FROM inserted OFFSET 0) e
)`);

@Injectable()
export class ConversationsRepository {
  private readonly startedEvent: Prisma.Sql;

  constructor(
    private readonly prisma: PrismaService,
    /** Lists: the replica when DATABASE_READ_URL is set (CONTRACT §4.2); membership lookups stay on the primary. */
    private readonly reads: ReadSql,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.startedEvent = config.eventBusUrl ? STARTED_EVENT : Prisma.empty;
  }

  async findById(id: string): Promise<Conversation | undefined> {
    const rows = await this.prisma.$queryRaw<ConversationRow[]>`
      SELECT id::text, user_a, user_b, created_at FROM conversation WHERE id = ${id}::uuid`;
    return rows[0] && toConversation(rows[0]);
  }

  /** The pair's conversation, created on first use; concurrent starts of the same pair get one row. */
  async findOrCreate(newId: string, userA: string, userB: string): Promise<Conversation> {
    const rows = await this.prisma.$queryRaw<ConversationRow[]>`
      WITH inserted AS (
        INSERT INTO conversation (id, user_a, user_b) VALUES (${newId}::uuid, ${userA}, ${userB})
        ON CONFLICT (user_a, user_b) DO NOTHING
        RETURNING id, user_a, user_b, created_at
      )${this.startedEvent}
      SELECT id::text, user_a, user_b, created_at FROM inserted
      UNION ALL
      SELECT id::text, user_a, user_b, created_at FROM conversation WHERE user_a = ${userA} AND user_b = ${userB}
      LIMIT 1`;
    if (rows[0]) return toConversation(rows[0]);
    // The pair was inserted by a concurrent transaction that committed after our snapshot.
    const again = await this.prisma.$queryRaw<ConversationRow[]>`
      SELECT id::text, user_a, user_b, created_at FROM conversation WHERE user_a = ${userA} AND user_b = ${userB}`;
    if (!again[0]) throw new Error('conversation insert conflicted but no row was found');
    return toConversation(again[0]);
  }

  async listForUser(userId: string, after: ActivityCursor | undefined, limit: number): Promise<ConversationSummary[]> {
    const rows = await this.reads.rows('list', LIST_FOR_USER, listParameters(userId, after, limit));
    return rows.map((row) => {
      const [conversationId, userA, userB, createdAt, updatedAt, unreadCount] = row as [string, string, string, string, string, number];
      const summary: ConversationSummary = { conversationId, participantIds: [userA, userB], createdAt, unreadCount, updatedAt };
      const lastMessage = decodeMessage(row, 6);
      if (lastMessage) summary.lastMessage = lastMessage;
      return summary;
    });
  }
}

/** The bound values of LIST_FOR_USER (the bench's raw-SQL baseline binds the same). */
export function listParameters(userId: string, after: ActivityCursor | undefined, limit: number): unknown[] {
  return [userId, after ? after.updatedAt : new Date(8.64e15), after ? after.conversationId : 'ffffffff-ffff-ffff-ffff-ffffffffffff', limit];
}
