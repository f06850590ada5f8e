import type { Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from '@platform/messaging-client/contract';
import type { Actor } from './actor.js';

/**
 * What the domain tells connected clients. Implemented by the websocket layer; every method is
 * fire-and-forget, since delivery to sockets is best effort and catch-up covers the rest.
 */
export interface RealtimeNotifier {
  /** To every socket of the recipient and of the sender, except the socket that sent it. */
  newMessage(message: Message, recipientId: string, origin: Actor): void;
  messageDelivered(senderId: string, event: MessageDeliveredEvent): void;
  /** To every socket of the sender and the reader's other sockets. */
  messageRead(senderId: string, event: MessageReadEvent, origin: Actor): void;
  typing(toUserId: string, event: TypingEvent): void;
  typingStopped(toUserId: string, event: TypingEvent): void;
}
export const REALTIME_NOTIFIER = Symbol('REALTIME_NOTIFIER');
