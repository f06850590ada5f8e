import { describe, expect, it } from 'vitest';
import { orderedPair, otherParticipant } from './conversation-pair.js';

describe('orderedPair', () => {
  it('gives the same pair whoever starts', () => {
    expect(orderedPair('bob', 'alice')).toEqual(orderedPair('alice', 'bob'));
    expect(orderedPair('bob', 'alice')).toEqual(['alice', 'bob']);
  });

  it('orders by code point (UTF-8 bytes, collation "C"), not by UTF-16 unit or locale', () => {
    expect(orderedPair('alice', 'Bob')).toEqual(['Bob', 'alice']);
    expect(orderedPair('user_1', 'user-1')).toEqual(['user-1', 'user_1']);
    expect(orderedPair('😀', '\ue000')).toEqual(['\ue000', '😀']);
    expect(orderedPair('\uff41', '😀')).toEqual(['\uff41', '😀']);
  });
});

describe('otherParticipant', () => {
  const pair = { conversationId: 'c', userA: 'alice', userB: 'bob' };
  it('names the other side for each participant', () => {
    expect(otherParticipant(pair, 'alice')).toBe('bob');
    expect(otherParticipant(pair, 'bob')).toBe('alice');
  });
  it('is undefined for anyone else', () => {
    expect(otherParticipant(pair, 'mallory')).toBeUndefined();
  });
});
