import { z } from 'zod';
import type { Conversation, ConversationSummary, Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from '@platform/messaging-client/contract';

/**
 * The shapes the server emits (CONTRACT §3.2) and the platform events (CONTRACT §8) as zod schemas:
 * the specs validate what the service really publishes against them, and the AsyncAPI document
 * (docs/asyncapi.json, scripts/asyncapi.mjs) is generated from them. Objects are strict: a field the
 * contract does not name is a mistake, not an extension.
 *
 * The compile-time checks at the end keep them equal to the TypeScript models of models.ts.
 */
const timestamp = z.iso.datetime({ offset: false, precision: 3 }).describe('ISO 8601 UTC timestamp with milliseconds');
const uuid = z.uuid();
const userId = z.string().min(1).max(128).describe('opaque user id, compared code point by code point');

export const messageSchema = z
  .strictObject({
    messageId: uuid,
    conversationId: uuid,
    senderId: userId,
    text: z.string().min(1),
    seq: z.number().int().min(1).describe('1, 2, 3, ... within its conversation, no gaps'),
    timestamp: timestamp.describe('when the server stored it'),
    clientMessageId: z.string().min(1).max(128).optional().describe('echoed when the sender gave one'),
    deliveredAt: timestamp.optional(),
    readAt: timestamp.optional(),
  })
  .meta({ id: 'Message' });

export const conversationSchema = z
  .strictObject({
    conversationId: uuid,
    participantIds: z.tuple([userId, userId]),
    createdAt: timestamp,
  })
  .meta({ id: 'Conversation' });

export const conversationSummarySchema = z
  .strictObject({
    ...conversationSchema.shape,
    lastMessage: messageSchema.optional(),
    unreadCount: z.number().int().min(0),
    updatedAt: timestamp.describe('last activity'),
  })
  .meta({ id: 'ConversationSummary' });

/** Server → client Socket.IO events (CONTRACT §3.2). */
export const messageDeliveredEventSchema = z
  .strictObject({ conversationId: uuid, messageId: uuid.describe('the newest message newly marked'), deliveredAt: timestamp })
  .meta({ id: 'MessageDeliveredEvent' });
export const messageReadEventSchema = z
  .strictObject({ conversationId: uuid, messageId: uuid.describe('the newest message newly marked'), readAt: timestamp, readerId: userId })
  .meta({ id: 'MessageReadEvent' });
export const typingEventSchema = z.strictObject({ conversationId: uuid, userId }).meta({ id: 'TypingEvent' });

const envelope = {
  eventId: uuid.describe('unique per event; also the Nats-Msg-Id header: deduplicate by it'),
  occurredAt: timestamp.describe('when the change was stamped by the database, in its transaction'),
};

/** Platform events published to the JetStream stream MESSAGING (CONTRACT §8). */
export const conversationStartedSchema = z.strictObject({ ...envelope, conversation: conversationSchema }).meta({ id: 'ConversationStarted' });
export const messageSentSchema = z
  .strictObject({ ...envelope, message: messageSchema, recipientId: userId })
  .meta({ id: 'MessageSent' });
export const messageDeliveredSchema = z
  .strictObject({
    ...envelope,
    conversationId: uuid,
    recipientId: userId.describe('the participant who received the messages and marked them delivered'),
    messageId: uuid.describe('the newest message newly marked'),
    seq: z.number().int().min(1),
    deliveredAt: timestamp,
  })
  .meta({ id: 'MessageDelivered' });
export const messageReadSchema = z
  .strictObject({
    ...envelope,
    conversationId: uuid,
    readerId: userId,
    messageId: uuid.describe('the newest message newly marked'),
    seq: z.number().int().min(1),
    readAt: timestamp,
  })
  .meta({ id: 'MessageRead' });

/** Consumed from the stream CONNECTIONS (CONTRACT §8). Not strict: the producer may add fields. */
export const connectionRemovedSchema = z
  .object({ eventId: z.string().min(1), userIdA: userId, userIdB: userId, occurredAt: z.string().min(1) })
  .meta({ id: 'ConnectionRemoved' });

export const MESSAGING_STREAM = { name: 'MESSAGING', subjects: 'messaging.v1.>' } as const;
export const CONNECTIONS_STREAM = { name: 'CONNECTIONS', subjects: 'connections.v1.>' } as const;

/** Every subject of CONTRACT §8 with its payload schema. */
export const PUBLISHED_EVENTS = {
  'messaging.v1.conversation.started': conversationStartedSchema,
  'messaging.v1.message.sent': messageSentSchema,
  'messaging.v1.message.delivered': messageDeliveredSchema,
  'messaging.v1.message.read': messageReadSchema,
} as const;
export type PublishedSubject = keyof typeof PUBLISHED_EVENTS;
export const CONNECTION_REMOVED_SUBJECT = 'connections.v1.connection.removed';

export type ConversationStarted = z.infer<typeof conversationStartedSchema>;
export type MessageSent = z.infer<typeof messageSentSchema>;
export type MessageDelivered = z.infer<typeof messageDeliveredSchema>;
export type MessageRead = z.infer<typeof messageReadSchema>;
export type ConnectionRemoved = z.infer<typeof connectionRemovedSchema>;

// The schemas and the models of models.ts describe the same shapes, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const shapesAgree: [
  Same<z.infer<typeof messageSchema>, Message>,
  Same<z.infer<typeof conversationSchema>, Conversation>,
  Same<z.infer<typeof conversationSummarySchema>, ConversationSummary>,
  Same<z.infer<typeof messageDeliveredEventSchema>, MessageDeliveredEvent>,
  Same<z.infer<typeof messageReadEventSchema>, MessageReadEvent>,
  Same<z.infer<typeof typingEventSchema>, TypingEvent>,
] = [true, true, true, true, true, true];
void shapesAgree;
