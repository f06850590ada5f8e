import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RemoteTyping, TypingThrottle } from './typing.js';

describe('TypingThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = () => {
    const calls: Array<{ call: 'start' | 'stop'; at: number }> = [];
    const started = Date.now();
    const throttle = new TypingThrottle({
      throttleMs: 2000,
      idleMs: 3000,
      start: () => calls.push({ call: 'start', at: Date.now() - started }),
      stop: () => calls.push({ call: 'stop', at: Date.now() - started }),
    });
    return { throttle, calls };
  };

  it('sends startTyping at most once every 2 s while the user types, and stopTyping once idle', () => {
    const { throttle, calls } = make();
    // A keystroke every 100 ms for 5 s.
    for (let elapsed = 0; elapsed < 5000; elapsed += 100) {
      throttle.input();
      vi.advanceTimersByTime(100);
    }
    expect(calls).toEqual([
      { call: 'start', at: 0 },
      { call: 'start', at: 2000 },
      { call: 'start', at: 4000 },
    ]);
    vi.advanceTimersByTime(2899);
    expect(calls).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(calls.at(-1)).toEqual({ call: 'stop', at: 7900 });
    expect(throttle.typing).toBe(false);
  });

  it('stops at once on stop(), and starts again at once on the next keystroke', () => {
    const { throttle, calls } = make();
    throttle.input();
    vi.advanceTimersByTime(500);
    throttle.stop();
    throttle.stop();
    throttle.input();
    expect(calls.map((c) => c.call)).toEqual(['start', 'stop', 'start']);
  });

  it('forgets its state on reset() without telling anyone (the server cleared it on send)', () => {
    const { throttle, calls } = make();
    throttle.input();
    throttle.reset();
    vi.advanceTimersByTime(10_000);
    expect(calls.map((c) => c.call)).toEqual(['start']);
    throttle.input();
    expect(calls.map((c) => c.call)).toEqual(['start', 'start']);
  });
});

describe('RemoteTyping', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows who types until typingStopped, or locally after the timeout when that event is lost', () => {
    const changes: Array<readonly string[]> = [];
    const typing = new RemoteTyping(8000, (_conversationId, users) => changes.push(users));
    typing.set('c1', 'bob');
    expect(typing.users('c1')).toEqual(['bob']);
    vi.advanceTimersByTime(5000);
    typing.set('c1', 'bob'); // a repeated event pushes the deadline back, without a change
    expect(changes).toEqual([['bob']]);
    vi.advanceTimersByTime(7999);
    expect(typing.users('c1')).toEqual(['bob']);
    vi.advanceTimersByTime(1);
    expect(typing.users('c1')).toEqual([]);
    expect(changes).toEqual([['bob'], []]);
  });

  it('clears on typingStopped and on clearAll (a disconnection)', () => {
    const typing = new RemoteTyping(8000, () => undefined);
    typing.set('c1', 'bob');
    typing.set('c2', 'carol');
    typing.clear('c1', 'bob');
    expect(typing.users('c1')).toEqual([]);
    typing.clearAll();
    expect(typing.users('c2')).toEqual([]);
  });
});
