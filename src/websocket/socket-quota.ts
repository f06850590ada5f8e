/**
 * Counts each user's sockets on this instance (MAX_SOCKETS_PER_USER). A slot is taken during the
 * handshake, before the socket exists, so that concurrent handshakes cannot overshoot the limit.
 */
export class SocketQuota {
  private readonly held = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes a slot; returns the function that gives it back (safe to call more than once). */
  tryTake(userId: string): (() => void) | undefined {
    const count = this.held.get(userId) ?? 0;
    if (count >= this.limit) return undefined;
    this.held.set(userId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const remaining = (this.held.get(userId) ?? 1) - 1;
      if (remaining <= 0) this.held.delete(userId);
      else this.held.set(userId, remaining);
    };
  }

  count(userId: string): number {
    return this.held.get(userId) ?? 0;
  }
}
