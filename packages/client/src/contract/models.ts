/** The shapes of CONTRACT §3: timestamps are ISO 8601 strings in UTC, ids are strings. */
export interface Message {
  messageId: string;
  conversationId: string;
  senderId: string;
  text: string;
  /** 1, 2, 3, ... within its conversation, with no gaps. */
  seq: number;
  /** When the server stored it. */
  timestamp: string;
  clientMessageId?: string;
  deliveredAt?: string;
  readAt?: string;
}

export interface Conversation {
  conversationId: string;
  participantIds: [string, string];
  createdAt: string;
}

export interface ConversationSummary extends Conversation {
  lastMessage?: Message;
  unreadCount: number;
  /** Last activity: the newest message, or the creation. */
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface MessageDeliveredEvent {
  conversationId: string;
  messageId: string;
  deliveredAt: string;
}

export interface MessageReadEvent {
  conversationId: string;
  messageId: string;
  readAt: string;
  readerId: string;
}

export interface TypingEvent {
  conversationId: string;
  userId: string;
}
