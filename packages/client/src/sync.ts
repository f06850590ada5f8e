import type { ConversationSummary, Message } from './contract/models.js';
import type { Calls } from './calls.js';
import type { ChangeFeed } from './changes.js';
import type { ConversationList } from './conversation-list.js';
import type { ChatMessage, ConversationStore } from './conversation-store.js';
import { toMessagingError, type MessagingError } from './errors.js';
import type { Receipts } from './receipts.js';
import type { Stores } from './stores.js';

export interface SyncParts {
  calls: Calls;
  stores: Stores;
  list: ConversationList;
  changes: ChangeFeed;
  receipts: Receipts;
  pageSize: number;
  gapGraceMs: number;
  selfId(): string;
  isClosed(): boolean;
  report(error: MessagingError, context: string): void;
  /** A new message from the other participant, after deduplication. */
  incoming(message: ChatMessage): void;
}

/** Pages a gap fill or a scroll-back may walk through at most. */
const MAX_WALK_PAGES = 200;
const MAX_CONVERSATION_PAGES = 20;
/** Rounds of gap filling per trigger; the loop also catches gaps that open meanwhile. */
const MAX_FILL_ROUNDS = 5;

/**
 * Keeps the client's copy in step with the server: live messages and acknowledged sends into the
 * stores (duplicates dropped by messageId), history pages (the newest page, scroll-back), seq gaps
 * filled from history after a grace period, the conversation list, and a resync after a
 * reconnection.
 */
export class Sync {
  private readonly loading = new Map<string, Promise<void>>();
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly filling = new Set<string>();
  private refreshTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly parts: SyncParts) {}

  // ---- live -------------------------------------------------------------------------------

  /** A `newMessage` from the server (live, or the catch-up after a connection). */
  onNewMessage(message: Message): void {
    if (typeof message !== 'object' || message === null || typeof message.messageId !== 'string' || typeof message.conversationId !== 'string') return;
    const { stores, receipts, changes } = this.parts;
    const conversationId = message.conversationId;
    const store = stores.for(conversationId);
    const result = store.ingest(message, 'live');
    const incoming = message.senderId !== this.parts.selfId();
    if (!result.added && !result.changed) {
      // A duplicate (the catch-up after a reconnection, a replay) is dropped by messageId; the
      // server re-sends only what it still counts undelivered, so the mark is tried again.
      if (incoming) receipts.schedule(conversationId);
      return;
    }
    if (result.added) {
      this.touchList(message, incoming);
      if (incoming) {
        receipts.schedule(conversationId);
        const added = store.byMessageId(message.messageId);
        if (added) this.parts.incoming(added);
      }
    }
    if (result.gap) this.scheduleGapFill(conversationId);
    changes.messages(conversationId);
  }

  /** Our message is stored: from the acknowledgement (possibly a late or repeated one). */
  onOwnStored(message: Message): void {
    const result = this.parts.stores.for(message.conversationId).ingest(message, 'live');
    if (!result.added && !result.changed) return;
    if (result.added) this.touchList(message, false);
    if (result.gap) this.scheduleGapFill(message.conversationId);
    this.parts.changes.messages(message.conversationId);
  }

  // ---- conversations ----------------------------------------------------------------------

  /** Loads the conversation list (every page) from the server. */
  async loadConversations(): Promise<readonly ConversationSummary[]> {
    const fetched: ConversationSummary[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_CONVERSATION_PAGES; page++) {
      const data = await this.parts.calls.request('listConversations', { pageSize: 100, ...(cursor ? { cursor } : {}) });
      fetched.push(...data.conversations);
      cursor = data.nextCursor;
      if (!cursor) break;
    }
    this.parts.list.mergeLoaded(fetched);
    return this.parts.list.all();
  }

  /** A conversation this client does not know yet showed up (someone started one with us). */
  refreshConversationsSoon(): void {
    if (this.refreshTimer || this.parts.isClosed()) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.loadConversations().catch((error: unknown) => this.parts.report(toMessagingError(error), 'loading conversations'));
    }, 100);
  }

  // ---- history ----------------------------------------------------------------------------

  /** The newest page of a conversation (once; later messages arrive live). */
  loadLatest(conversationId: string): Promise<readonly ChatMessage[]> {
    const store = this.parts.stores.for(conversationId);
    if (store.historyLoaded) return Promise.resolve(store.messages());
    return this.exclusive(conversationId, () => this.walkFromNewest(store, store.newestSeq)).then(() => store.messages());
  }

  /** The page before the oldest message loaded (scrolling up). */
  loadOlder(conversationId: string): Promise<{ added: number; hasOlder: boolean }> {
    const store = this.parts.stores.for(conversationId);
    const before = store.size;
    const load = async () => {
      if (!store.historyLoaded) return this.walkFromNewest(store, store.newestSeq);
      if (store.hasOlder === false) return;
      const cursor = store.cursorForOlder;
      if (!cursor) return this.walkFromNewest(store, (store.oldestSeq ?? 1) - 1);
      const data = await this.parts.calls.request('getMessageHistory', { conversationId, paginationCursor: cursor, pageSize: this.parts.pageSize });
      store.ingestPage(data.messages, data.nextCursor);
      this.afterHistory(store);
    };
    return this.exclusive(conversationId, load).then(() => ({ added: store.size - before, hasOlder: store.hasOlder !== false }));
  }

  /** After a reconnection: the list, and each loaded conversation's newest messages and receipts. */
  async resync(): Promise<void> {
    try {
      if (this.parts.list.loaded) await this.loadConversations();
      for (const store of this.parts.stores.all()) {
        if (store.historyLoaded) await this.exclusive(store.conversationId, () => this.walkFromNewest(store, store.newestSeq));
      }
      this.parts.receipts.remarkVisible();
    } catch (error) {
      this.parts.report(toMessagingError(error), 'resync after reconnection');
    }
  }

  close(): void {
    clearTimeout(this.refreshTimer);
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
  }

  // ---- internals --------------------------------------------------------------------------

  private touchList(message: Message, incoming: boolean): void {
    const known = this.parts.list.touch(message, incoming, this.parts.selfId(), this.parts.receipts.readSeq(message.conversationId));
    // Our own message from another device, in a conversation this client has not seen.
    if (!known) this.refreshConversationsSoon();
  }

  /** One history operation per conversation at a time; a second caller shares the first's. */
  private exclusive(conversationId: string, task: () => Promise<void>): Promise<void> {
    const running = this.loading.get(conversationId);
    if (running) return running;
    const promise = task().finally(() => this.loading.delete(conversationId));
    this.loading.set(conversationId, promise);
    return promise;
  }

  /** Pages from the newest message down until a page reaches `untilSeq` (or, without it, one page). */
  private async walkFromNewest(store: ConversationStore, untilSeq: number | undefined): Promise<void> {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_WALK_PAGES; page++) {
      const data = await this.parts.calls.request('getMessageHistory', {
        conversationId: store.conversationId,
        pageSize: this.parts.pageSize,
        ...(cursor ? { paginationCursor: cursor } : {}),
      });
      store.ingestPage(data.messages, data.nextCursor);
      const low = data.messages.reduce((min, message) => Math.min(min, message.seq), Number.POSITIVE_INFINITY);
      if (!data.nextCursor || untilSeq === undefined || low <= untilSeq) break;
      cursor = data.nextCursor;
    }
    store.historyLoaded = true;
    this.afterHistory(store);
  }

  private afterHistory(store: ConversationStore): void {
    this.parts.changes.messages(store.conversationId);
    // Loaded messages count as delivered too (and as read when on screen).
    this.parts.receipts.schedule(store.conversationId);
  }

  private scheduleGapFill(conversationId: string): void {
    if (this.gapTimers.has(conversationId) || this.parts.isClosed()) return;
    this.gapTimers.set(
      conversationId,
      setTimeout(() => {
        this.gapTimers.delete(conversationId);
        void this.fillGaps(conversationId);
      }, this.parts.gapGraceMs),
    );
  }

  /** Fetches what a seq jump says is missing. */
  private async fillGaps(conversationId: string): Promise<void> {
    if (this.filling.has(conversationId)) return;
    const store = this.parts.stores.for(conversationId);
    this.filling.add(conversationId);
    try {
      for (let round = 0; round < MAX_FILL_ROUNDS; round++) {
        const [first] = store.gaps();
        if (!first) break;
        await this.walkFromNewest(store, first.fromSeq);
      }
    } catch (error) {
      this.parts.report(toMessagingError(error), 'fetching missed messages');
    } finally {
      this.filling.delete(conversationId);
    }
  }
}
