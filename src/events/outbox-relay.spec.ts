import { describe, expect, it } from 'vitest';
import { publishedRows } from './outbox-relay.js';

const event = (position: string, n: number) => ({ position, id: `${position}-${n}`, subject: 'messaging.v1.message.sent', payload: '{}' });

describe('the outbox rows a relay round deletes', () => {
  // Rows 1 and 3 are send batches of three events; row 2 a single event.
  const events = [event('1', 0), event('1', 1), event('1', 2), event('2', 0), event('3', 0), event('3', 1), event('3', 2)];

  it('deletes every row once all of its events were published', () => {
    expect(publishedRows(events, events.length)).toEqual(['1', '2', '3']);
  });

  it('keeps a batch row published in part, and whatever follows it', () => {
    expect(publishedRows(events, 5)).toEqual(['1', '2']);
    expect(publishedRows(events, 2)).toEqual([]);
    expect(publishedRows(events, 0)).toEqual([]);
  });

  it('deletes a row whose last event ends the published prefix', () => {
    expect(publishedRows(events, 3)).toEqual(['1']);
    expect(publishedRows(events, 4)).toEqual(['1', '2']);
  });
});
