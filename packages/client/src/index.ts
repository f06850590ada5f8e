/**
 * The messaging client: `import { MessagingClient } from '@platform/messaging-client'` (Node,
 * bundlers), or the standalone browser bundle `@platform/messaging-client/browser`. The
 * contract's types are the service's own (`@platform/messaging-client/contract`), re-exported here;
 * React bindings are at `@platform/messaging-client/react`.
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
export { CONTRACT_VERSION } from './contract/version.js';
export type { ErrorCode } from './contract/error-codes.js';
export type { Conversation, ConversationSummary, Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from './contract/models.js';
export type { AckError, AckResult, ClientEventMap, ClientToServerEvents, ServerToClientEvents } from './contract/socket-contract.js';
