import type { Conversation, ConversationSummary, Message } from './contract/models.js';

/**
 * The conversation list: summaries by id, kept current by live messages and reads. Snapshots are
 * immutable and keep their identity until their data changes: `all()` returns the same array
 * while nothing changed, and an unchanged conversation keeps the same summary object, so they can
 * back `useSyncExternalStore` and memoized rows.
 */
export class ConversationList {
  private readonly summaries = new Map<string, ConversationSummary>();
  private snapshot?: readonly ConversationSummary[];
  /** True once the list was loaded from the server (it is then reloaded after a reconnection). */
  loaded = false;

  constructor(private readonly onChange: () => void) {}

  /** Most recent activity first. */
  all(): readonly ConversationSummary[] {
    this.snapshot ??= Object.freeze(
      [...this.summaries.values()].sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt) || b.conversationId.localeCompare(a.conversationId)),
    );
    return this.snapshot;
  }

  get(conversationId: string): ConversationSummary | undefined {
    return this.summaries.get(conversationId);
  }

  has(conversationId: string): boolean {
    return this.summaries.has(conversationId);
  }

  /** Pages loaded from the server; a live message newer than the page's last one is kept. */
  mergeLoaded(fetched: readonly ConversationSummary[]): void {
    for (const summary of fetched) {
      const local = this.summaries.get(summary.conversationId);
      // A live message may have arrived while the list was on its way: keep the newer one.
      if (local?.lastMessage && (!summary.lastMessage || local.lastMessage.seq > summary.lastMessage.seq)) {
        this.put({ ...summary, lastMessage: local.lastMessage, updatedAt: local.updatedAt, unreadCount: local.unreadCount });
      } else if (!local || !sameSummary(local, summary)) {
        this.put(summary);
      }
    }
    this.loaded = true;
  }

  /** A conversation this user just started (or found). */
  addStarted(conversation: Conversation): void {
    if (this.summaries.has(conversation.conversationId)) return;
    this.put({ ...conversation, unreadCount: 0, updatedAt: conversation.createdAt });
  }

  /**
   * Keeps the list in step with a new message; false when the conversation is not known and
   * cannot be made up here (our own message from another device): the list should be reloaded.
   */
  touch(message: Message, incoming: boolean, selfId: string, readUpToSeq: number): boolean {
    const summary = this.summaries.get(message.conversationId);
    if (!summary && !incoming) return false;
    const next: ConversationSummary = summary
      ? { ...summary }
      : {
          conversationId: message.conversationId,
          participantIds: [selfId, message.senderId].sort() as [string, string],
          createdAt: message.timestamp,
          updatedAt: message.timestamp,
          unreadCount: 0,
        };
    if (!next.lastMessage || message.seq >= next.lastMessage.seq) {
      next.lastMessage = message;
      if (Date.parse(message.timestamp) > Date.parse(next.updatedAt)) next.updatedAt = message.timestamp;
    }
    if (incoming && !message.readAt && message.seq > readUpToSeq) next.unreadCount++;
    this.put(next);
    return true;
  }

  setUnread(conversationId: string, unreadCount: number): void {
    const summary = this.summaries.get(conversationId);
    if (summary && summary.unreadCount !== unreadCount) this.put({ ...summary, unreadCount });
  }

  private put(summary: ConversationSummary): void {
    const frozen: ConversationSummary = Object.freeze({
      ...summary,
      participantIds: Object.freeze([...summary.participantIds]) as unknown as [string, string],
      ...(summary.lastMessage ? { lastMessage: Object.freeze({ ...summary.lastMessage }) } : {}),
    });
    this.summaries.set(summary.conversationId, frozen);
    this.snapshot = undefined;
    this.onChange();
  }
}

function sameSummary(a: ConversationSummary, b: ConversationSummary): boolean {
  return (
    a.unreadCount === b.unreadCount &&
    a.updatedAt === b.updatedAt &&
    a.createdAt === b.createdAt &&
    a.lastMessage?.messageId === b.lastMessage?.messageId &&
    a.lastMessage?.deliveredAt === b.lastMessage?.deliveredAt &&
    a.lastMessage?.readAt === b.lastMessage?.readAt
  );
}
