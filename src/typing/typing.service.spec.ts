import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../contract/app-error.js';
import type { RealtimeNotifier } from '../contract/realtime-notifier.port.js';
import type { AppConfig } from '../config/config.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import { TypingService } from './typing.service.js';

const TIMEOUT_MS = 6000;
const CONVERSATION = 'c-alice-bob';
const OTHER_CONVERSATION = 'c-alice-carol';

/** Who hears what: the notifier's typing calls, in order. */
class RecordingNotifier implements Pick<RealtimeNotifier, 'typing' | 'typingStopped'> {
  readonly heard: string[] = [];
  typing(toUserId: string, event: { conversationId: string; userId: string }): void {
    this.heard.push(`${toUserId} ← typing ${event.userId} in ${event.conversationId}`);
  }
  typingStopped(toUserId: string, event: { conversationId: string; userId: string }): void {
    this.heard.push(`${toUserId} ← stopped ${event.userId} in ${event.conversationId}`);
  }
}

/** Membership as ConversationsService answers it: alice–bob and alice–carol; anyone else is refused. */
const conversations = {
  async requireMembership(actor: { userId: string }, conversationId: string) {
    const pairs: Record<string, [string, string]> = { [CONVERSATION]: ['alice', 'bob'], [OTHER_CONVERSATION]: ['alice', 'carol'] };
    const pair = pairs[conversationId];
    if (!pair?.includes(actor.userId)) throw AppError.permissionDenied();
    const [userA, userB] = pair;
    return { conversationId, userA, userB, otherId: actor.userId === userA ? userB : userA };
  },
} as unknown as ConversationsService;

describe('TypingService', () => {
  let notifier: RecordingNotifier;
  let typing: TypingService;
  const alice = { userId: 'alice', socketId: 's1' };

  beforeEach(() => {
    vi.useFakeTimers();
    notifier = new RecordingNotifier();
    typing = new TypingService(conversations, notifier as unknown as RealtimeNotifier, { typingTimeoutMs: TIMEOUT_MS } as AppConfig);
  });
  afterEach(() => {
    typing.onModuleDestroy();
    vi.useRealTimers();
  });

  it('tells the other participant once per start, however often it repeats', async () => {
    await typing.start(alice, { conversationId: CONVERSATION });
    await typing.start(alice, { conversationId: CONVERSATION });
    await typing.start({ userId: 'alice', socketId: 's2' }, { conversationId: CONVERSATION });
    expect(notifier.heard).toEqual(['bob ← typing alice in c-alice-bob']);
  });

  it('clears itself after the timeout, each start pushing the deadline back', async () => {
    await typing.start(alice, { conversationId: CONVERSATION });
    vi.advanceTimersByTime(TIMEOUT_MS - 1000);
    await typing.start(alice, { conversationId: CONVERSATION });
    vi.advanceTimersByTime(TIMEOUT_MS - 1000);
    expect(notifier.heard).toEqual(['bob ← typing alice in c-alice-bob']);
    vi.advanceTimersByTime(1000);
    expect(notifier.heard).toEqual(['bob ← typing alice in c-alice-bob', 'bob ← stopped alice in c-alice-bob']);
    vi.advanceTimersByTime(10 * TIMEOUT_MS);
    expect(notifier.heard).toHaveLength(2);
  });

  it('stops on stopTyping even when this instance saw no start (it may have been another instance)', async () => {
    await typing.stop(alice, { conversationId: CONVERSATION });
    expect(notifier.heard).toEqual(['bob ← stopped alice in c-alice-bob']);
    await typing.start(alice, { conversationId: CONVERSATION });
    await typing.stop(alice, { conversationId: CONVERSATION });
    vi.advanceTimersByTime(2 * TIMEOUT_MS);
    expect(notifier.heard.slice(1)).toEqual(['bob ← typing alice in c-alice-bob', 'bob ← stopped alice in c-alice-bob']);
  });

  it('a sent message clears the typist’s indicator in that conversation only, and only once', async () => {
    await typing.start(alice, { conversationId: CONVERSATION });
    await typing.start(alice, { conversationId: OTHER_CONVERSATION });
    typing.clearAfterSend(CONVERSATION, 'alice');
    typing.clearAfterSend(CONVERSATION, 'alice');
    expect(notifier.heard.slice(2)).toEqual(['bob ← stopped alice in c-alice-bob']);
  });

  it('the typist’s last disconnect clears all their indicators and no one else’s', async () => {
    await typing.start(alice, { conversationId: CONVERSATION });
    await typing.start(alice, { conversationId: OTHER_CONVERSATION });
    await typing.start({ userId: 'bob' }, { conversationId: CONVERSATION });
    notifier.heard.length = 0;
    typing.clearUser('alice');
    expect(notifier.heard.sort()).toEqual(['bob ← stopped alice in c-alice-bob', 'carol ← stopped alice in c-alice-carol']);
    vi.advanceTimersByTime(TIMEOUT_MS);
    expect(notifier.heard.at(-1)).toBe('alice ← stopped bob in c-alice-bob');
  });

  it('refuses a non-participant with PERMISSION_DENIED and tells no one', async () => {
    await expect(typing.start({ userId: 'mallory' }, { conversationId: CONVERSATION })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(typing.stop({ userId: 'mallory' }, { conversationId: CONVERSATION })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(notifier.heard).toEqual([]);
  });

  it('refuses a flood with RESOURCE_EXHAUSTED before any membership lookup, per user', async () => {
    const outcomes: string[] = [];
    for (let index = 0; index < 40; index++) {
      outcomes.push(await typing.start(alice, { conversationId: CONVERSATION }).then(() => 'ok', (error: AppError) => error.code));
    }
    expect(outcomes.filter((code) => code === 'ok').length).toBeGreaterThanOrEqual(5);
    expect(outcomes.at(-1)).toBe('RESOURCE_EXHAUSTED');
    // Another user has their own budget.
    await expect(typing.start({ userId: 'bob' }, { conversationId: CONVERSATION })).resolves.toBeUndefined();
  });
});
