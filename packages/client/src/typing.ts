/**
 * Typing indicators, both directions.
 *
 * Outgoing: `input()` on every keystroke sends `startTyping` at most once per `throttleMs` (the
 * server keeps the indicator up for TYPING_TIMEOUT_MS after each), and `stopTyping` once the user
 * has not typed for `idleMs`, or at once through `stop()`.
 */
export interface TypingThrottleOptions {
  throttleMs: number;
  idleMs: number;
  start(): void;
  stop(): void;
}

export class TypingThrottle {
  private active = false;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private idleTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly options: TypingThrottleOptions) {}

  get typing(): boolean {
    return this.active;
  }

  /** The user typed. */
  input(): void {
    const now = Date.now();
    if (!this.active || now - this.lastStartAt >= this.options.throttleMs) {
      this.active = true;
      this.lastStartAt = now;
      this.options.start();
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.options.idleMs);
  }

  /** The user stopped (cleared the input, left the conversation): tells the other side now. */
  stop(): void {
    clearTimeout(this.idleTimer);
    if (!this.active) return;
    this.active = false;
    this.lastStartAt = Number.NEGATIVE_INFINITY;
    this.options.stop();
  }

  /** Forgets the state without telling anyone: the server already cleared it (a message was sent). */
  reset(): void {
    clearTimeout(this.idleTimer);
    this.active = false;
    this.lastStartAt = Number.NEGATIVE_INFINITY;
  }
}

/**
 * Incoming: who is typing in which conversation. An indicator comes down on `typingStopped`, on a
 * message from the typist, when the socket drops, and locally `timeoutMs` after the last `typing`
 * event, in case a `typingStopped` was lost (an instance crashed, say).
 */
export class RemoteTyping {
  private readonly timers = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();
  /** Who is typing, per conversation: the same array until it changes. */
  private readonly snapshots = new Map<string, readonly string[]>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onChange: (conversationId: string, userIds: readonly string[]) => void,
  ) {}

  users(conversationId: string): readonly string[] {
    let snapshot = this.snapshots.get(conversationId);
    if (!snapshot) this.snapshots.set(conversationId, (snapshot = Object.freeze([...(this.timers.get(conversationId)?.keys() ?? [])])));
    return snapshot;
  }

  set(conversationId: string, userId: string): void {
    let users = this.timers.get(conversationId);
    if (!users) this.timers.set(conversationId, (users = new Map()));
    const existing = users.get(userId);
    clearTimeout(existing);
    users.set(userId, setTimeout(() => this.clear(conversationId, userId), this.timeoutMs));
    if (!existing) this.changed(conversationId);
  }

  clear(conversationId: string, userId: string): void {
    const users = this.timers.get(conversationId);
    const timer = users?.get(userId);
    if (!users || timer === undefined) return;
    clearTimeout(timer);
    users.delete(userId);
    if (users.size === 0) this.timers.delete(conversationId);
    this.changed(conversationId);
  }

  clearAll(): void {
    for (const [conversationId, users] of [...this.timers]) {
      for (const userId of [...users.keys()]) this.clear(conversationId, userId);
    }
  }

  private changed(conversationId: string): void {
    this.snapshots.delete(conversationId);
    this.onChange(conversationId, this.users(conversationId));
  }
}

/** Outgoing typing of every conversation: one TypingThrottle each, made on first use. */
export class OutgoingTyping {
  private readonly throttles = new Map<string, TypingThrottle>();

  constructor(
    private readonly options: { throttleMs: number; idleMs: number },
    private readonly send: (event: 'startTyping' | 'stopTyping', conversationId: string) => void,
  ) {}

  input(conversationId: string): void {
    let throttle = this.throttles.get(conversationId);
    if (!throttle) {
      throttle = new TypingThrottle({
        ...this.options,
        start: () => this.send('startTyping', conversationId),
        stop: () => this.send('stopTyping', conversationId),
      });
      this.throttles.set(conversationId, throttle);
    }
    throttle.input();
  }

  stop(conversationId: string): void {
    this.throttles.get(conversationId)?.stop();
  }

  /** The server cleared it (a message was sent): forget it without telling anyone. */
  reset(conversationId: string): void {
    this.throttles.get(conversationId)?.reset();
  }

  /** The connection dropped (the server clears a gone socket's typing) or the client closed. */
  resetAll(): void {
    for (const throttle of this.throttles.values()) throttle.reset();
  }
}
