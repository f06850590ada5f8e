import { Injectable } from '@nestjs/common';
import { PrismaService } from '../infrastructure/prisma/prisma.service.js';
import type { MessageRow } from '../common/message-row.js';

export interface ConversationRow {
  id: string;
  user_a: string;
  user_b: string;
  created_at: Date;
  updated_at: Date;
}

export interface SummaryRow extends ConversationRow {
  unread_count: number;
  /** json_build_object output: timestamps arrive as strings. */
  last_message: (Omit<MessageRow, 'created_at' | 'delivered_at' | 'read_at'> & {
    created_at: string;
    delivered_at: string | null;
    read_at: string | null;
  }) | null;
}

export interface ActivityCursor {
  updatedAt: Date;
  conversationId: string;
}

@Injectable()
export class ConversationsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findById(id: string): Promise<ConversationRow | undefined> {
    const rows = await this.prisma.$queryRaw<ConversationRow[]>`
      SELECT id::text, user_a, user_b, created_at, updated_at FROM conversation WHERE id = ${id}::uuid`;
    return rows[0];
  }

  /** The pair's conversation, created on first use; concurrent starts of the same pair get one row. */
  async findOrCreate(newId: string, userA: string, userB: string): Promise<ConversationRow> {
    const rows = await this.prisma.$queryRaw<ConversationRow[]>`
      WITH inserted AS (
        INSERT INTO conversation (id, user_a, user_b) VALUES (${newId}::uuid, ${userA}, ${userB})
        ON CONFLICT (user_a, user_b) DO NOTHING
        RETURNING id, user_a, user_b, created_at, updated_at
      )
      SELECT id::text, user_a, user_b, created_at, updated_at FROM inserted
      UNION ALL
      SELECT id::text, user_a, user_b, created_at, updated_at FROM conversation WHERE user_a = ${userA} AND user_b = ${userB}
      LIMIT 1`;
    if (rows[0]) return rows[0];
    // The pair was inserted by a concurrent transaction that committed after our snapshot.
    const again = await this.prisma.$queryRaw<ConversationRow[]>`
      SELECT id::text, user_a, user_b, created_at, updated_at FROM conversation WHERE user_a = ${userA} AND user_b = ${userB}`;
    if (!again[0]) throw new Error('conversation insert conflicted but no row was found');
    return again[0];
  }

  /**
   * One page of the user's conversations, most recent activity first. Each side of the pair has
   * its own (user, updated_at, id) index; the two ordered scans are merged, then the page is
   * decorated with its last message and the caller's unread count (a partial index).
   */
  async listForUser(userId: string, after: ActivityCursor | undefined, limit: number): Promise<SummaryRow[]> {
    const beforeTime = after ? after.updatedAt : new Date(8.64e15);
    const beforeId = after ? after.conversationId : 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    return this.prisma.$queryRaw<SummaryRow[]>`
      SELECT c.id::text, c.user_a, c.user_b, c.created_at, c.updated_at,
        (SELECT count(*)::int FROM message u
          WHERE u.conversation_id = c.id AND u.recipient_id = ${userId} AND u.read_at IS NULL) AS unread_count,
        (SELECT json_build_object(
            'id', m.id, 'conversation_id', m.conversation_id, 'seq', m.seq, 'sender_id', m.sender_id,
            'text', m.text, 'client_message_id', m.client_message_id, 'created_at', m.created_at,
            'delivered_at', m.delivered_at, 'read_at', m.read_at)
          FROM message m WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS last_message
      FROM (
        (SELECT * FROM conversation
          WHERE user_a = ${userId} AND (updated_at, id) < (${beforeTime}, ${beforeId}::uuid)
          ORDER BY updated_at DESC, id DESC LIMIT ${limit})
        UNION ALL
        (SELECT * FROM conversation
          WHERE user_b = ${userId} AND (updated_at, id) < (${beforeTime}, ${beforeId}::uuid)
          ORDER BY updated_at DESC, id DESC LIMIT ${limit})
      ) c
      ORDER BY c.updated_at DESC, c.id DESC
      LIMIT ${limit}`;
  }
}
