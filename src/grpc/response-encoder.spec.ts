import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { protoPath } from '../infrastructure/proto-path.js';
import { GRPC_LOADER_OPTIONS } from './grpc-options.js';
import { responseEncoder, withResponseEncoders } from './response-encoder.js';

const definition = loadSync(protoPath('messaging/v1/messaging.proto'), GRPC_LOADER_OPTIONS);
const service = definition['messaging.v1.MessagingService'] as ServiceDefinition;
const protobufjs = {
  history: service.GetMessageHistory.responseSerialize,
  list: service.ListConversations.responseSerialize,
  conversation: service.CreateConversation.responseSerialize,
};
const decode = {
  history: service.GetMessageHistory.responseDeserialize,
  list: service.ListConversations.responseDeserialize,
};
const ours = {
  history: responseEncoder(definition, 'messaging.v1.HistoryResponse'),
  list: responseEncoder(definition, 'messaging.v1.ListConversationsResponse'),
  conversation: responseEncoder(definition, 'messaging.v1.Conversation'),
};

const message = (seq: number, text: string, extra: object = {}) => ({
  messageId: `0191e2c4-1a2b-7c3d-8e4f-${String(100000000000 + seq)}`,
  conversationId: '0191e2c4-1a2b-7c3d-8e4f-123456789012',
  senderId: 'user-1',
  text,
  timestamp: '2026-12-03T10:00:00.000Z',
  seq,
  ...extra,
});

// Texts across UTF-8's byte lengths (1 to 4), around the 128-byte varint boundary of a length and
// past protobufjs's own switch from its JavaScript writer to Buffer's at 40 characters.
const TEXTS = ['', 'hi', 'é', '€uro', '😀 emoji', 'x'.repeat(127), 'x'.repeat(128), 'ü'.repeat(64), '語'.repeat(2000), '😀'.repeat(300)];

describe('response encoder', () => {
  it('writes the bytes protobufjs writes for history pages of every shape', () => {
    const pages = [
      { messages: [] },
      { messages: [], nextCursor: 'abc' },
      { messages: TEXTS.map((text, i) => message(i + 1, text)), nextCursor: 'h1:' + 'x'.repeat(200) },
      {
        messages: [
          message(1, 'read', { deliveredAt: '2026-12-03T10:00:01.000Z', readAt: '2026-12-03T10:00:02.000Z', clientMessageId: 'c-1' }),
          message(2 ** 31 + 5, 'a seq past int32'),
          message(Number.MAX_SAFE_INTEGER, 'the largest seq a number holds'),
          message(0, 'seq zero'),
        ],
      },
    ];
    for (const page of pages) expect(ours.history(page).equals(protobufjs.history(page))).toBe(true);
  });

  it('writes list pages and conversations as protobufjs does, nested and repeated fields included', () => {
    const list = {
      conversations: [
        { conversationId: 'c1', participantIds: ['a', 'b'], unreadCount: 3, updatedAt: '2026-12-03T10:00:00.000Z', lastMessage: message(7, 'last') },
        { conversationId: 'c2', participantIds: ['a', 'ç'], unreadCount: 0, updatedAt: '2026-12-03T10:00:00.000Z' },
        { conversationId: 'c3', participantIds: [], unreadCount: -1, updatedAt: '' },
      ],
      nextCursor: 'l1:abc',
    };
    expect(ours.list(list).equals(protobufjs.list(list))).toBe(true);
    const conversation = { conversationId: 'c1', participantIds: ['a', 'b'], createdAt: '2026-12-03T10:00:00.000Z' };
    expect(ours.conversation(conversation).equals(protobufjs.conversation(conversation))).toBe(true);
  });

  it('round-trips through the decoder clients use', () => {
    const page = { messages: [message(3, '😀 ok', { readAt: '2026-12-03T10:00:02.000Z' })], nextCursor: 'n' };
    expect(decode.history(ours.history(page))).toMatchObject(page);
    // A lone surrogate cannot be UTF-8: it leaves as U+FFFD, as Buffer writes it (protobufjs's
    // JavaScript writer would send invalid UTF-8 for short strings).
    expect(decode.history(ours.history({ messages: [message(1, 'a\ud800b')] }))).toMatchObject({ messages: [message(1, 'a\ufffdb')] });
  });

  it('refuses a value of the wrong type instead of sending it wrong', () => {
    expect(() => ours.history({ messages: [{ ...message(1, 'x'), seq: 1.5 }] })).toThrow(/seq is not an integer/);
    expect(() => ours.history({ messages: [{ ...message(1, 'x'), text: 42 }] })).toThrow(/text is not a string/);
  });

  it('refuses at start-up a field type it does not encode', () => {
    const withDouble = {
      ...definition,
      'messaging.v1.Odd': { ...definition['messaging.v1.Conversation'], type: { name: 'Odd', field: [{ name: 'ratio', number: 1, label: 'LABEL_OPTIONAL', type: 'TYPE_DOUBLE', typeName: '' }] } },
    };
    expect(() => responseEncoder(withDouble as typeof definition, 'messaging.v1.Odd')).toThrow(/ratio has type TYPE_DOUBLE/);
  });

  it('replaces the response serializer of every method of the service, and nothing else', () => {
    const replaced = withResponseEncoders(definition, 'messaging.v1.MessagingService');
    const methods = replaced['messaging.v1.MessagingService'] as ServiceDefinition;
    expect(Object.keys(methods)).toEqual(Object.keys(service));
    for (const name of Object.keys(service)) {
      expect(methods[name].responseSerialize).not.toBe(service[name].responseSerialize);
      expect(methods[name].requestDeserialize).toBe(service[name].requestDeserialize);
    }
    const page = { messages: [message(1, 'x')] };
    expect(methods.GetMessageHistory.responseSerialize(page).equals(protobufjs.history(page))).toBe(true);
  });
});
