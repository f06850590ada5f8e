import { z } from 'zod';
import {
  connectionRemovedSchema,
  CONNECTION_REMOVED_SUBJECT,
  conversationSchema,
  conversationSummarySchema,
  messageDeliveredEventSchema,
  messageReadEventSchema,
  messageSchema,
  PUBLISHED_EVENTS,
  typingEventSchema,
} from './events.js';
import {
  ERROR_CODES,
  listConversationsSchema,
  markAsDeliveredSchema,
  markAsReadSchema,
  messageHistorySchema,
  sendMessageSchema,
  startConversationSchema,
  typingSchema,
  type ClientEvent,
  type ServerToClientEvents,
} from '@platform/messaging-client/contract';

/**
 * The AsyncAPI 3 description of the asynchronous API (CONTRACT §3 and §8), generated from the zod
 * schemas the service validates and publishes with: `npm run asyncapi` writes docs/asyncapi.json,
 * and test/integration/asyncapi.spec.ts fails when that file is stale or invalid.
 */
/** CONTRACT.md's version (v1.1). */
const CONTRACT_VERSION = '1.1.0';
const empty = z.strictObject({});
const ackError = z.strictObject({ code: z.enum(ERROR_CODES), message: z.string() }).meta({ id: 'AckError' });
const nextCursor = z.string().optional().describe('absent on the last page');

/** Each client → server event: its payload (as clients may send it) and its acknowledgement's data. */
const CLIENT_EVENTS: Record<ClientEvent, { payload: z.ZodType; data: z.ZodType; summary: string }> = {
  startConversation: { payload: startConversationSchema, data: z.strictObject({ conversation: conversationSchema }), summary: 'Starts (or finds) the conversation with a first-degree connection' },
  sendMessage: { payload: sendMessageSchema, data: z.strictObject({ message: messageSchema }), summary: 'Sends a message; acknowledged once durably stored' },
  markAsDelivered: { payload: markAsDeliveredSchema, data: empty, summary: 'Marks the other participant’s messages up to this one as delivered' },
  markAsRead: { payload: markAsReadSchema, data: empty, summary: 'Marks the other participant’s messages up to this one as read (and delivered)' },
  startTyping: { payload: typingSchema, data: empty, summary: 'The user started typing' },
  stopTyping: { payload: typingSchema, data: empty, summary: 'The user stopped typing' },
  listConversations: {
    payload: listConversationsSchema,
    data: z.strictObject({ conversations: z.array(conversationSummarySchema), nextCursor }),
    summary: 'The user’s conversations, most recent activity first',
  },
  getMessageHistory: {
    payload: messageHistorySchema,
    data: z.strictObject({ messages: z.array(messageSchema), nextCursor }),
    summary: 'A page of a conversation’s messages, newest first',
  },
};

const SERVER_EVENTS: Record<keyof ServerToClientEvents, { payload: z.ZodType; summary: string }> = {
  newMessage: { payload: messageSchema, summary: 'A new message, to the recipient’s sockets and the sender’s other sockets; also the catch-up on connect' },
  messageDelivered: { payload: messageDeliveredEventSchema, summary: 'The recipient marked messages delivered; to the original sender' },
  messageRead: { payload: messageReadEventSchema, summary: 'The reader marked messages read; to the original sender and the reader’s other sockets' },
  typing: { payload: typingEventSchema, summary: 'The other participant is typing' },
  typingStopped: { payload: typingEventSchema, summary: 'The other participant stopped typing' },
};

const SUBJECT_SUMMARIES: Record<keyof typeof PUBLISHED_EVENTS, string> = {
  'messaging.v1.conversation.started': 'Once per pair, when the conversation is created',
  'messaging.v1.message.sent': 'Once per stored message; never for a repeated clientMessageId',
  'messaging.v1.message.delivered': 'Per markAsDelivered that marked something: the newest message newly marked',
  'messaging.v1.message.read': 'Per markAsRead that marked something (a read that also marks delivered publishes this one only)',
};

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
const subjectName = (subject: string) => subject.split('.').slice(2).map(pascal).join('');

/** The document as a plain object (stable key order: the checked-in file is compared byte for byte). */
export function buildAsyncApi(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const add = (schema: z.ZodType, id: string) => {
    if (!registry.has(schema)) registry.add(schema, { id });
    return { $ref: `#/components/schemas/${registry.get(schema)!.id}` };
  };
  // Shared shapes first, under their contract names.
  for (const [schema, id] of [
    [messageSchema, 'Message'],
    [conversationSchema, 'Conversation'],
    [conversationSummarySchema, 'ConversationSummary'],
    [ackError, 'AckError'],
  ] as const) {
    add(schema, id);
  }

  const socketMessages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const channels: Record<string, unknown> = {};

  for (const [event, { payload, data, summary }] of Object.entries(CLIENT_EVENTS)) {
    const ack = z.union([z.strictObject({ ok: z.literal(true), data }), z.strictObject({ ok: z.literal(false), error: ackError })]);
    socketMessages[event] = { name: event, summary, payload: add(payload, `${pascal(event)}Payload`) };
    socketMessages[`${event}Ack`] = { name: `${event} acknowledgement`, payload: add(ack, `${pascal(event)}Ack`) };
    operations[event] = {
      action: 'receive',
      summary,
      channel: { $ref: '#/channels/socketio' },
      messages: [{ $ref: `#/channels/socketio/messages/${event}` }],
      reply: { channel: { $ref: '#/channels/socketio' }, messages: [{ $ref: `#/channels/socketio/messages/${event}Ack` }] },
    };
  }
  for (const [event, { payload, summary }] of Object.entries(SERVER_EVENTS)) {
    socketMessages[event] = { name: event, summary, payload: add(payload, `${pascal(event)}Event`) };
    operations[event] = { action: 'send', summary, channel: { $ref: '#/channels/socketio' }, messages: [{ $ref: `#/channels/socketio/messages/${event}` }] };
  }
  channels.socketio = {
    address: '/',
    title: 'Socket.IO default namespace',
    description: 'Socket.IO on path /socket.io; the handshake carries auth: { token } (CONTRACT §2). Every client → server event takes an acknowledgement callback.',
    servers: [{ $ref: '#/servers/socketio' }],
    messages: socketMessages,
  };

  for (const [subject, schema] of Object.entries(PUBLISHED_EVENTS)) {
    const name = subjectName(subject);
    const key = name.charAt(0).toLowerCase() + name.slice(1);
    channels[key] = {
      address: subject,
      description: `Stream MESSAGING. Header Nats-Msg-Id = eventId.`,
      servers: [{ $ref: '#/servers/nats' }],
      messages: { [name]: { name: subject, summary: SUBJECT_SUMMARIES[subject as keyof typeof PUBLISHED_EVENTS], contentType: 'application/json', payload: add(schema, name) } },
    };
    operations[`publish${name}`] = { action: 'send', channel: { $ref: `#/channels/${key}` }, messages: [{ $ref: `#/channels/${key}/messages/${name}` }] };
  }
  channels.connectionRemoved = {
    address: CONNECTION_REMOVED_SUBJECT,
    description: 'Stream CONNECTIONS, consumed with the durable consumer EVENT_BUS_CONSUMER (default messaging).',
    servers: [{ $ref: '#/servers/nats' }],
    messages: { ConnectionRemoved: { name: CONNECTION_REMOVED_SUBJECT, contentType: 'application/json', payload: add(connectionRemovedSchema, 'ConnectionRemoved') } },
  };
  operations.consumeConnectionRemoved = {
    action: 'receive',
    summary: 'Within 1 s, no instance lets the pair start a conversation or send a message',
    channel: { $ref: '#/channels/connectionRemoved' },
    messages: [{ $ref: '#/channels/connectionRemoved/messages/ConnectionRemoved' }],
  };

  const generated = z.toJSONSchema(registry, { target: 'draft-7', io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => {
      const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
      return [id, rest];
    }),
  );

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Messaging service: asynchronous API',
      version: CONTRACT_VERSION,
      description: 'Generated from the zod schemas of src/contract (npm run asyncapi); the contract is CONTRACT.md (Socket.IO: §3, platform events: §8).',
    },
    defaultContentType: 'application/json',
    servers: {
      socketio: { host: 'localhost:3000', protocol: 'ws', pathname: '/socket.io', description: 'HTTP + Socket.IO (PORT)' },
      nats: { host: 'localhost:4222', protocol: 'nats', description: 'NATS JetStream (EVENT_BUS_URL)' },
    },
    channels,
    operations,
    components: { schemas },
  };
}
