import { describe, expect, it } from 'vitest';
import { ChangeFeed } from './changes.js';

describe('ChangeFeed', () => {
  it('announces a burst of changes once, after the current task', async () => {
    const flushes: Array<[string[], boolean]> = [];
    const feed = new ChangeFeed((ids, conversations) => flushes.push([ids, conversations]));
    for (let index = 0; index < 500; index++) feed.messages(index % 2 ? 'a' : 'b');
    feed.conversations();
    expect(flushes).toEqual([]);
    await Promise.resolve();
    expect(flushes).toEqual([[['b', 'a'], true]]);
    feed.messages('a');
    await Promise.resolve();
    expect(flushes[1]).toEqual([['a'], false]);
  });
});
