import { describe, expect, it } from 'vitest';
import { AppError } from './app-error.js';
import { sendMessageSchema, startConversationSchema } from '@platform/messaging-client/contract';
import { parsePayload } from './validate.js';

const codeOf = (action: () => unknown) => {
  try {
    action();
    return 'ok';
  } catch (error) {
    return error instanceof AppError ? error.code : 'thrown';
  }
};

describe('payload schemas', () => {
  const conversationId = '0190a4b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b';

  it('refuse U+0000 in what is stored (PostgreSQL text cannot hold it) as INVALID_ARGUMENT', () => {
    // Found by the gateway fuzzer (docs/reliability.md): it reached the database and came back INTERNAL.
    expect(codeOf(() => parsePayload(sendMessageSchema, { conversationId, text: 'a\u0000b' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parsePayload(sendMessageSchema, { conversationId, text: 'hi', clientMessageId: 'x\u0000' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parsePayload(startConversationSchema, { participantId: 'bob\u0000' }))).toBe('INVALID_ARGUMENT');
  });

  it('refuse lone UTF-16 surrogates in ids, texts and clientMessageIds (CONTRACT §3.4)', () => {
    expect(codeOf(() => parsePayload(sendMessageSchema, { conversationId, text: 'a\ud800b' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parsePayload(sendMessageSchema, { conversationId, text: 'hi', clientMessageId: 'c\udc00' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => parsePayload(startConversationSchema, { participantId: 's\ud800' }))).toBe('INVALID_ARGUMENT');
  });

  it('keep ids exact: never trimmed', () => {
    expect(parsePayload(startConversationSchema, { participantId: 't ' })).toEqual({ participantId: 't ' });
    expect(parsePayload(startConversationSchema, { participantId: ' ' })).toEqual({ participantId: ' ' });
  });

  it('still take any other text', () => {
    expect(codeOf(() => parsePayload(sendMessageSchema, { conversationId, text: 'é 💬 \u0001 \uFEFF', clientMessageId: 'c-1' }))).toBe('ok');
  });
});
