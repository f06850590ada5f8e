import type { Message } from '@platform/messaging-client/contract';
import type { Message as MessageRecord } from '../generated/prisma/client.js';

/** A timestamptz(3) as the contract's ISO 8601 UTC string, formatted by PostgreSQL (no Date on the way). */
export const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The one list of a message's columns, from the table (Prisma's model names them) to the wire:
 * every statement that reads messages selects `messageColumns(alias)` and decodes with
 * `decodeMessage`, in this order.
 */
const MESSAGE_COLUMNS = {
  id: (m: string) => `${m}.id::text`,
  conversationId: (m: string) => `${m}.conversation_id::text`,
  seq: (m: string) => `${m}.seq`,
  senderId: (m: string) => `${m}.sender_id`,
  text: (m: string) => `${m}.text`,
  clientMessageId: (m: string) => `${m}.client_message_id`,
  createdAt: (m: string) => iso(`${m}.created_at`),
  deliveredAt: (m: string) => iso(`${m}.delivered_at`),
  readAt: (m: string) => iso(`${m}.read_at`),
} satisfies Partial<Record<keyof MessageRecord, (alias: string) => string>>;

export function messageColumns(alias: string): string {
  return Object.values(MESSAGE_COLUMNS)
    .map((column) => column(alias))
    .join(', ');
}

/** The message at `offset` of a row selected with `messageColumns`, or undefined for a LEFT JOIN miss. */
export function decodeMessage(row: unknown[], offset = 0): Message | undefined {
  const id = row[offset] as string | null;
  if (id === null) return undefined;
  const message: Message = {
    messageId: id,
    conversationId: row[offset + 1] as string,
    senderId: row[offset + 3] as string,
    text: row[offset + 4] as string,
    seq: row[offset + 2] as number,
    timestamp: row[offset + 6] as string,
  };
  const [clientMessageId, deliveredAt, readAt] = [row[offset + 5], row[offset + 7], row[offset + 8]] as Array<string | null>;
  if (clientMessageId !== null) message.clientMessageId = clientMessageId;
  if (deliveredAt !== null) message.deliveredAt = deliveredAt;
  if (readAt !== null) message.readAt = readAt;
  return message;
}
