/**
 * The whole Socket.IO contract (CONTRACT §3) in one place, typed for both the server and clients.
 * Every client→server event takes an acknowledgement that receives exactly one AckResult.
 */
import type { ErrorCode } from './error-codes.js';
import type {
  Conversation,
  ConversationSummary,
  Message,
  MessageDeliveredEvent,
  MessageReadEvent,
  TypingEvent,
} from './models.js';
import type {
  ListConversationsInput,
  MarkAsDeliveredInput,
  MarkAsReadInput,
  MessageHistoryInput,
  SendMessageInput,
  StartConversationInput,
  TypingInput,
} from './schemas.js';

export type AckError = { code: ErrorCode; message: string };
export type AckResult<T> = { ok: true; data: T } | { ok: false; error: AckError };
export type Ack<T> = (result: AckResult<T>) => void;

type Empty = Record<string, never>;

/** Payload and acknowledged data of each client→server event. */
export interface ClientEventMap {
  startConversation: { payload: StartConversationInput; data: { conversation: Conversation } };
  sendMessage: { payload: SendMessageInput; data: { message: Message } };
  markAsDelivered: { payload: MarkAsDeliveredInput; data: Empty };
  markAsRead: { payload: MarkAsReadInput; data: Empty };
  startTyping: { payload: TypingInput; data: Empty };
  stopTyping: { payload: TypingInput; data: Empty };
  listConversations: { payload: ListConversationsInput; data: { conversations: ConversationSummary[]; nextCursor?: string } };
  getMessageHistory: { payload: MessageHistoryInput; data: { messages: Message[]; nextCursor?: string } };
}
export type ClientEvent = keyof ClientEventMap;

export type ClientToServerEvents = {
  [E in ClientEvent]: (payload: ClientEventMap[E]['payload'], ack: Ack<ClientEventMap[E]['data']>) => void;
};

export interface ServerToClientEvents {
  newMessage: (message: Message) => void;
  messageDelivered: (event: MessageDeliveredEvent) => void;
  messageRead: (event: MessageReadEvent) => void;
  typing: (event: TypingEvent) => void;
  typingStopped: (event: TypingEvent) => void;
}

/** Messages of a failed handshake (`connect_error.message`). */
export type HandshakeError = 'UNAUTHENTICATED' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE';
