/**
 * The messaging client: `import { MessagingClient } from '@platform/messaging-client'`
 * (Node, bundlers) or the browser bundle served by the demo at `/demo/messaging-sdk.js`.
 * The contract's types are the server's own (src/contract), re-exported here.
 */
export { MessagingClient } from './messaging-client.js';
export type {
  ConnectionState,
  MessagingClientEvents,
  MessagingClientOptions,
  SocketFactory,
  SocketLike,
  SocketOptionsForFactory,
  TokenSource,
} from './messaging-client.js';
export { ConversationStore } from './conversation-store.js';
export type { ChatMessage, IngestResult, MessageStatus } from './conversation-store.js';
export { MessagingError, isRetryable, RETRYABLE_CODES } from './errors.js';
export type { ClientErrorCode, ServerErrorCode } from './errors.js';
export { backoffDelay, DEFAULT_RECONNECT, DEFAULT_REQUEST_RETRY, DEFAULT_SEND_RETRY } from './backoff.js';
export type { RetryPolicy } from './backoff.js';
export { TypingThrottle, RemoteTyping } from './typing.js';
export { randomId, tokenSubject } from './ids.js';
export type { Conversation, ConversationSummary, Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from './contract/models.js';
export type { AckError, AckResult, ClientEventMap, ClientToServerEvents, ServerToClientEvents } from './contract/socket-contract.js';
