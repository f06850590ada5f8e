/**
 * Change notification: parts mark what changed, and the listeners hear about it once per
 * microtask, so a burst (a catch-up of 500 messages, a page) is one event, not 500.
 */
export class ChangeFeed {
  private readonly dirty = new Set<string>();
  private conversationsDirty = false;
  private scheduled = false;

  constructor(private readonly flush: (conversationIds: string[], conversations: boolean) => void) {}

  /** A conversation's messages changed (new ones, statuses, an older page). */
  messages(conversationId: string): void {
    this.dirty.add(conversationId);
    this.schedule();
  }

  /** The conversation list changed (order, last messages, unread counts). */
  conversations(): void {
    this.conversationsDirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const dirty = [...this.dirty];
      this.dirty.clear();
      const conversations = this.conversationsDirty;
      this.conversationsDirty = false;
      this.flush(dirty, conversations);
    });
  }
}
