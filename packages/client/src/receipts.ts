import type { MessageDeliveredEvent, MessageReadEvent } from './contract/models.js';
import type { Calls } from './calls.js';
import type { ChangeFeed } from './changes.js';
import type { ConversationList } from './conversation-list.js';
import type { ConversationStore } from './conversation-store.js';
import { toMessagingError, type MessagingError } from './errors.js';
import type { Stores } from './stores.js';

export interface ReceiptsParts {
  calls: Calls;
  stores: Stores;
  list: ConversationList;
  changes: ChangeFeed;
  selfId(): string;
  isClosed(): boolean;
  isConnected(): boolean;
  report(error: MessagingError, context: string): void;
}

type Marks = { delivered: number; read: number };

/**
 * Receipts, both ways. Outgoing: the newest incoming message is marked delivered (one call per
 * burst), or read while its conversation is on screen; both are high-water marks on the server,
 * so one call covers every earlier message. Incoming: `messageDelivered` / `messageRead` raise
 * our own messages' statuses, and a read on another of our devices lowers the unread count.
 */
export class Receipts {
  private readonly visible = new Set<string>();
  private readonly marksSent = new Map<string, Marks>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly parts: ReceiptsParts) {}

  /** Whether the user sees the conversation now: while visible, its messages are marked read. */
  setVisible(conversationId: string, visible: boolean): void {
    if (visible) {
      this.visible.add(conversationId);
      this.schedule(conversationId);
    } else {
      this.visible.delete(conversationId);
    }
  }

  /** After a reconnection: what is on screen is marked read again. */
  remarkVisible(): void {
    for (const conversationId of this.visible) this.schedule(conversationId);
  }

  /** Incoming messages up to this seq were marked read by this client. */
  readSeq(conversationId: string): number {
    return this.marksSent.get(conversationId)?.read ?? 0;
  }

  schedule(conversationId: string): void {
    if (this.timers.has(conversationId) || this.parts.isClosed()) return;
    this.timers.set(
      conversationId,
      setTimeout(() => {
        this.timers.delete(conversationId);
        void this.flush(conversationId);
      }, 0),
    );
  }

  onDelivered(event: MessageDeliveredEvent): void {
    if (this.parts.stores.for(event.conversationId).applyReceipt('delivered', event.messageId, event.deliveredAt)) this.parts.changes.messages(event.conversationId);
  }

  onRead(event: MessageReadEvent): void {
    const { stores, list, changes } = this.parts;
    const store = stores.for(event.conversationId);
    if (event.readerId !== this.parts.selfId()) {
      if (store.applyReceipt('read', event.messageId, event.readAt)) changes.messages(event.conversationId);
      return;
    }
    // We read them on another device.
    store.applyIncomingRead(event.messageId, event.readAt);
    const marks = this.marksFor(event.conversationId);
    const seq = store.byMessageId(event.messageId)?.seq;
    if (seq !== undefined) marks.read = Math.max(marks.read, seq);
    if (seq !== undefined) list.setUnread(event.conversationId, store.unreadAfter(seq));
    else if (list.get(event.conversationId)?.lastMessage?.messageId === event.messageId) list.setUnread(event.conversationId, 0);
    changes.messages(event.conversationId);
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private marksFor(conversationId: string): Marks {
    let marks = this.marksSent.get(conversationId);
    if (!marks) this.marksSent.set(conversationId, (marks = { delivered: 0, read: 0 }));
    return marks;
  }

  private async flush(conversationId: string): Promise<void> {
    if (!this.parts.isConnected()) return; // redone after the reconnection
    const { calls, stores, list, changes } = this.parts;
    const store = stores.for(conversationId);
    let target: { messageId: string; seq: number; deliveredAt?: string; readAt?: string } | undefined;
    const newest = store.newestIncoming();
    if (newest?.messageId && newest.seq !== undefined) target = { messageId: newest.messageId, seq: newest.seq, deliveredAt: newest.deliveredAt, readAt: newest.readAt };
    const last = list.get(conversationId)?.lastMessage;
    if (last && last.senderId !== this.parts.selfId() && (!target || last.seq > target.seq)) target = last;
    if (!target) return;
    const marks = this.marksFor(conversationId);
    try {
      if (this.visible.has(conversationId)) {
        if (target.readAt || target.seq <= marks.read) {
          this.setUnread(conversationId, store, target.seq);
          return;
        }
        const previous = { ...marks };
        marks.read = target.seq;
        marks.delivered = Math.max(marks.delivered, target.seq);
        await calls.request('markAsRead', { conversationId, lastReadMessageId: target.messageId }).catch((error: unknown) => {
          Object.assign(marks, previous);
          throw error;
        });
        store.applyIncomingRead(target.messageId, new Date().toISOString());
        this.setUnread(conversationId, store, target.seq);
        changes.messages(conversationId);
        return;
      }
      if (target.deliveredAt || target.readAt || target.seq <= marks.delivered) return;
      const previous = marks.delivered;
      marks.delivered = target.seq;
      await calls.request('markAsDelivered', { conversationId, lastDeliveredMessageId: target.messageId }).catch((error: unknown) => {
        marks.delivered = previous;
        throw error;
      });
    } catch (error) {
      this.parts.report(toMessagingError(error), 'marking messages delivered or read');
    }
  }

  private setUnread(conversationId: string, store: ConversationStore, readUpToSeq: number): void {
    this.parts.list.setUnread(conversationId, store.unreadAfter(readUpToSeq));
  }
}
