import { z } from 'zod';
import { isWellFormed } from './unicode.js';

/**
 * One schema per client payload, shared by the Socket.IO and gRPC transports. Unknown fields are
 * stripped; `null` is read as "absent" for optional fields, as careful clients may send either.
 */
const id = z.uuid({ message: 'must be a UUID' });
/** PostgreSQL text cannot hold U+0000: a stored string with one is refused here, not by the database (INTERNAL). */
const NO_NUL = { message: 'must not contain U+0000' } as const;
const storable = (value: string) => !value.includes('\u0000');
/** A lone UTF-16 surrogate would be stored as U+FFFD, another string than the one acknowledged (CONTRACT §3.4). */
const WELL_FORMED = { message: 'must not contain a lone UTF-16 surrogate' } as const;
/** A string that is stored as it came: no U+0000, no lone surrogate. */
const exact = () => z.string().refine(storable, NO_NUL).refine(isWellFormed, WELL_FORMED);
/** Ids are opaque and exact (CONTRACT §3.4): never trimmed, so that "t " is not user "t". */
const userId = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters').pipe(exact());
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? undefined);
const pageSize = z.number().int('must be an integer').min(1, 'must be at least 1');
const cursor = z.string().min(1).max(512);

export const startConversationSchema = z.object({ participantId: userId });
export const sendMessageSchema = z.object({
  conversationId: id,
  text: exact(),
  clientMessageId: optional(z.string().min(1).max(128).pipe(exact())),
});
export const markAsDeliveredSchema = z.object({ conversationId: id, lastDeliveredMessageId: id });
export const markAsReadSchema = z.object({ conversationId: id, lastReadMessageId: id });
export const typingSchema = z.object({ conversationId: id });
export const listConversationsSchema = z.object({ cursor: optional(cursor), pageSize: optional(pageSize) });
export const messageHistorySchema = z.object({
  conversationId: id,
  paginationCursor: optional(cursor),
  pageSize: optional(pageSize),
});

export type StartConversationInput = z.input<typeof startConversationSchema>;
export type StartConversationDto = z.output<typeof startConversationSchema>;
export type SendMessageInput = z.input<typeof sendMessageSchema>;
export type SendMessageDto = z.output<typeof sendMessageSchema>;
export type MarkAsDeliveredInput = z.input<typeof markAsDeliveredSchema>;
export type MarkAsDeliveredDto = z.output<typeof markAsDeliveredSchema>;
export type MarkAsReadInput = z.input<typeof markAsReadSchema>;
export type MarkAsReadDto = z.output<typeof markAsReadSchema>;
export type TypingInput = z.input<typeof typingSchema>;
export type TypingDto = z.output<typeof typingSchema>;
export type ListConversationsInput = z.input<typeof listConversationsSchema>;
export type ListConversationsDto = z.output<typeof listConversationsSchema>;
export type MessageHistoryInput = z.input<typeof messageHistorySchema>;
export type MessageHistoryDto = z.output<typeof messageHistorySchema>;
