import { describe, expect, it } from 'vitest';
import { ParticipantsCache } from './participants-cache.js';

const pair = (conversationId: string) => ({ conversationId, userA: 'a', userB: 'b' });

describe('ParticipantsCache', () => {
  it('drops the oldest entry when full', () => {
    const cache = new ParticipantsCache(2);
    cache.set(pair('1'));
    cache.set(pair('2'));
    cache.set(pair('3'));
    expect(cache.get('1')).toBeUndefined();
    expect(cache.get('2')).toEqual(pair('2'));
    expect(cache.get('3')).toEqual(pair('3'));
  });

  it('does not evict when an existing entry is set again', () => {
    const cache = new ParticipantsCache(2);
    cache.set(pair('1'));
    cache.set(pair('2'));
    cache.set(pair('2'));
    expect(cache.get('1')).toEqual(pair('1'));
  });
});
