import { describe, expect, it } from 'vitest';
import type { ConversationSummary, Message } from './contract/models.js';
import { ConversationList } from './conversation-list.js';

const summary = (conversationId: string, updatedAt: string, extra: Partial<ConversationSummary> = {}): ConversationSummary => ({
  conversationId,
  participantIds: ['alice', 'bob'],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt,
  unreadCount: 0,
  ...extra,
});
const message = (conversationId: string, seq: number, senderId: string, timestamp: string): Message => ({
  messageId: `${conversationId}-${seq}`,
  conversationId,
  senderId,
  text: `m${seq}`,
  seq,
  timestamp,
});

describe('ConversationList', () => {
  it('keeps the snapshot and each summary identical until their data changes', () => {
    let changes = 0;
    const list = new ConversationList(() => changes++);
    list.mergeLoaded([summary('a', '2026-01-02T00:00:00.000Z'), summary('b', '2026-01-03T00:00:00.000Z')]);
    const first = list.all();
    expect(first.map((item) => item.conversationId)).toEqual(['b', 'a']);
    expect(list.all()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);

    // The same page again changes nothing.
    list.mergeLoaded([summary('a', '2026-01-02T00:00:00.000Z')]);
    list.setUnread('a', 0);
    expect(list.all()).toBe(first);
    const changesBefore = changes;

    // A new message in "a" moves it up; "b" keeps its object.
    expect(list.touch(message('a', 1, 'bob', '2026-01-04T00:00:00.000Z'), true, 'alice', 0)).toBe(true);
    const second = list.all();
    expect(second).not.toBe(first);
    expect(second.map((item) => item.conversationId)).toEqual(['a', 'b']);
    expect(second[1]).toBe(first[0]);
    expect(second[0]).toMatchObject({ unreadCount: 1, lastMessage: { seq: 1 }, updatedAt: '2026-01-04T00:00:00.000Z' });
    expect(changes).toBe(changesBefore + 1);
  });

  it('counts unread only above what was read, and keeps a live message newer than a loaded page', () => {
    const list = new ConversationList(() => undefined);
    list.touch(message('c', 5, 'bob', '2026-01-05T00:00:00.000Z'), true, 'alice', 5);
    expect(list.get('c')).toMatchObject({ unreadCount: 0, participantIds: ['alice', 'bob'] });
    list.touch(message('c', 6, 'bob', '2026-01-06T00:00:00.000Z'), true, 'alice', 5);
    list.mergeLoaded([summary('c', '2026-01-05T00:00:00.000Z', { lastMessage: message('c', 5, 'bob', '2026-01-05T00:00:00.000Z') })]);
    expect(list.get('c')).toMatchObject({ unreadCount: 1, lastMessage: { seq: 6 } });
  });

  it('does not make up a conversation for our own message from another device', () => {
    const list = new ConversationList(() => undefined);
    expect(list.touch(message('d', 1, 'alice', '2026-01-01T00:00:00.000Z'), false, 'alice', 0)).toBe(false);
    expect(list.all()).toEqual([]);
    list.addStarted({ conversationId: 'd', participantIds: ['alice', 'bob'], createdAt: '2026-01-01T00:00:00.000Z' });
    expect(list.get('d')).toMatchObject({ unreadCount: 0, updatedAt: '2026-01-01T00:00:00.000Z' });
  });
});
