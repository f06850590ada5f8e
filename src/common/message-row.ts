import type { Message } from '../contract/models.js';

/** A message as the repositories select it (snake_case SQL aliases kept out of the domain). */
export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  text: string;
  client_message_id: string | null;
  created_at: Date;
  delivered_at: Date | null;
  read_at: Date | null;
}

/** The column list that matches MessageRow, for raw SQL. */
export const MESSAGE_COLUMNS = 'id, conversation_id, seq, sender_id, text, client_message_id, created_at, delivered_at, read_at';

export function toMessage(row: MessageRow): Message {
  const message: Message = {
    messageId: row.id,
    conversationId: row.conversation_id,
    senderId: row.sender_id,
    text: row.text,
    seq: row.seq,
    timestamp: row.created_at.toISOString(),
  };
  if (row.client_message_id !== null) message.clientMessageId = row.client_message_id;
  if (row.delivered_at !== null) message.deliveredAt = row.delivered_at.toISOString();
  if (row.read_at !== null) message.readAt = row.read_at.toISOString();
  return message;
}
