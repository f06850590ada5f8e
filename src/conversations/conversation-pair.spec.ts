import { describe, expect, it } from 'vitest';
import { orderedPair, otherParticipant } from './conversation-pair.js';

describe('orderedPair', () => {
  it('gives the same pair whoever starts', () => {
    expect(orderedPair('bob', 'alice')).toEqual(orderedPair('alice', 'bob'));
    expect(orderedPair('bob', 'alice')).toEqual(['alice', 'bob']);
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
