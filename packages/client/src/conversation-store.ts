import type { Message } from './contract/models.js';
import type { ClientErrorCode } from './errors.js';

/**
 * Status of a message, as its sender sees it: `sending` → `sent` (stored, acknowledged) →
 * `delivered` (reached a device of the recipient) → `read`; or `failed`, which can be retried.
 * Messages from the other participant are `delivered`, or `read` once read here (or on another
 * device of ours).
 */
export type MessageStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/** A message as the client shows it: a stored one, or one of ours still being sent. */
export interface ChatMessage {
  /** Stable across the send: the clientMessageId of our own messages, the messageId of others'. */
  readonly key: string;
  readonly conversationId: string;
  readonly senderId: string;
  readonly text: string;
  /** Sent by the signed-in user (from this device or another one). */
  readonly own: boolean;
  readonly status: MessageStatus;
  /** Absent until the server has stored it. */
  readonly messageId?: string;
  readonly seq?: number;
  /** When the server stored it; absent until then. */
  readonly timestamp?: string;
  readonly clientMessageId?: string;
  readonly deliveredAt?: string;
  readonly readAt?: string;
  /** When this client created it (for a message being sent), or the server's timestamp. */
  readonly createdAt: string;
  /** Why the last attempt failed (status `failed`, or `sending` while retrying). */
  readonly error?: { code: ClientErrorCode; message: string };
}

type Entry = { -readonly [K in keyof ChatMessage]: ChatMessage[K] };
type ReceiptKind = 'delivered' | 'read';

export interface IngestResult {
  /** New here; false for a duplicate (same messageId), which is dropped. */
  added: boolean;
  /** Anything the user can see changed: a new message, a status, a receipt. */
  changed: boolean;
  /** A live message whose seq jumped: these seqs are missing and should be fetched from history. */
  gap?: { fromSeq: number; toSeq: number };
  /** The clientMessageId of our own pending send that this message confirms. */
  confirmed?: string;
}

const RANK: Record<MessageStatus, number> = { failed: 0, sending: 0, sent: 1, delivered: 2, read: 3 };

/**
 * One conversation's messages on the client: deduplicated by messageId, ordered by seq (our
 * pending sends after them, in the order they were written), with seq gaps detected and read and
 * delivery receipts applied as high-water marks. Pure state: no I/O, no timers.
 */
export class ConversationStore {
  private readonly byId = new Map<string, Entry>();
  private readonly bySeq = new Map<number, Entry>();
  private readonly pending = new Map<string, Entry>();
  private readonly unresolved = new Map<string, Array<{ kind: ReceiptKind | 'incomingRead'; at: string }>>();
  private minSeq?: number;
  private maxSeq?: number;
  private olderCursor?: { cursor: string; belowSeq: number };
  /** Every own message up to these seqs is delivered / read (the server's marks are high-water marks). */
  private ownDelivered = { seq: 0, at: '' };
  private ownRead = { seq: 0, at: '' };
  /** Every incoming message up to this seq has been read by us (here or on another device). */
  private incomingRead = { seq: 0, at: '' };
  /** The snapshot of `messages()`, and each message's: kept until something in them changes. */
  private sorted?: readonly ChatMessage[];
  private readonly views = new WeakMap<Entry, ChatMessage>();
  /** True once a page of history has been loaded from the newest message down. */
  historyLoaded = false;

  constructor(
    readonly conversationId: string,
    private readonly selfId: string,
  ) {}

  /** Adds a stored message (live or from history), or merges what is new about one already here. */
  ingest(message: Message, source: 'live' | 'history'): IngestResult {
    const existing = this.byId.get(message.messageId);
    if (existing) {
      const changed = this.merge(existing, message);
      if (changed) this.touched(existing);
      return { added: false, changed };
    }
    const gap =
      source === 'live' && this.maxSeq !== undefined && message.seq > this.maxSeq + 1 ? { fromSeq: this.maxSeq + 1, toSeq: message.seq - 1 } : undefined;
    const own = message.senderId === this.selfId;
    const pending = own && message.clientMessageId ? this.pending.get(message.clientMessageId) : undefined;
    let confirmed: string | undefined;
    let entry: Entry;
    if (pending) {
      this.pending.delete(pending.key);
      confirmed = pending.key;
      entry = pending;
      entry.error = undefined;
    } else {
      entry = {
        key: own && message.clientMessageId ? message.clientMessageId : message.messageId,
        conversationId: this.conversationId,
        senderId: message.senderId,
        text: message.text,
        own,
        status: 'sent',
        createdAt: message.timestamp,
      };
    }
    Object.assign(entry, {
      messageId: message.messageId,
      seq: message.seq,
      timestamp: message.timestamp,
      text: message.text,
      clientMessageId: message.clientMessageId,
      deliveredAt: message.deliveredAt,
      readAt: message.readAt,
    });
    entry.status = own ? ownStatus(message) : message.readAt ? 'read' : 'delivered';
    this.applyMarks(entry);
    this.byId.set(message.messageId, entry);
    this.bySeq.set(message.seq, entry);
    this.minSeq = this.minSeq === undefined ? message.seq : Math.min(this.minSeq, message.seq);
    this.maxSeq = this.maxSeq === undefined ? message.seq : Math.max(this.maxSeq, message.seq);
    this.touched(entry);
    for (const receipt of this.unresolved.get(message.messageId) ?? []) {
      if (receipt.kind === 'incomingRead') this.markIncomingRead(message.seq, receipt.at);
      else this.raiseOwnMark(receipt.kind, message.seq, receipt.at);
    }
    this.unresolved.delete(message.messageId);
    return { added: true, changed: true, ...(gap ? { gap } : {}), ...(confirmed ? { confirmed } : {}) };
  }

  /**
   * A page of history (newest first, as the server sends it). Its `nextCursor` continues below
   * the page's oldest message; it is kept when that is also the oldest message here.
   */
  ingestPage(messages: Message[], nextCursor: string | undefined): { added: number; changed: boolean } {
    let added = 0;
    let changed = false;
    for (const message of messages) {
      const result = this.ingest(message, 'history');
      if (result.added) added++;
      changed ||= result.changed;
    }
    const low = messages.reduce<number | undefined>((min, message) => (min === undefined || message.seq < min ? message.seq : min), undefined);
    if (low !== undefined && nextCursor && low === this.minSeq) this.olderCursor = { cursor: nextCursor, belowSeq: low };
    return { added, changed };
  }

  /** Our own message, shown at once as `sending`. */
  addPending(clientMessageId: string, text: string, createdAt: string): ChatMessage {
    const entry: Entry = { key: clientMessageId, conversationId: this.conversationId, senderId: this.selfId, text, own: true, status: 'sending', clientMessageId, createdAt };
    this.pending.set(clientMessageId, entry);
    this.sorted = undefined;
    return this.view(entry);
  }

  /** A pending send is being (re)tried, or has failed for good; `error` says why the last attempt failed. */
  setPendingState(clientMessageId: string, status: 'sending' | 'failed', error?: { code: ClientErrorCode; message: string }): boolean {
    const entry = this.pending.get(clientMessageId);
    if (!entry) return false;
    entry.status = status;
    entry.error = error;
    this.touched(entry);
    return true;
  }

  isPending(clientMessageId: string): boolean {
    return this.pending.has(clientMessageId);
  }

  /** Drops a pending (typically failed) send. */
  discardPending(clientMessageId: string): boolean {
    const removed = this.pending.delete(clientMessageId);
    if (removed) this.sorted = undefined;
    return removed;
  }

  /**
   * A receipt for our own messages (`messageDelivered`, or `messageRead` from the other
   * participant): every own message up to that one is delivered / read. A receipt for a message
   * not here yet is kept until it arrives.
   */
  applyReceipt(kind: ReceiptKind, messageId: string, at: string): boolean {
    const target = this.byId.get(messageId);
    if (!target?.seq) {
      this.remember(messageId, kind, at);
      return false;
    }
    return this.raiseOwnMark(kind, target.seq, at);
  }

  /** We read the other participant's messages up to that one (here, or on another of our devices). */
  applyIncomingRead(messageId: string, at: string): boolean {
    const target = this.byId.get(messageId);
    if (!target?.seq) {
      this.remember(messageId, 'incomingRead', at);
      return false;
    }
    return this.markIncomingRead(target.seq, at);
  }

  get(key: string): ChatMessage | undefined {
    const entry = this.pending.get(key) ?? [...this.byId.values()].find((candidate) => candidate.key === key);
    return entry ? this.view(entry) : undefined;
  }

  byMessageId(messageId: string): ChatMessage | undefined {
    const entry = this.byId.get(messageId);
    return entry ? this.view(entry) : undefined;
  }

  /**
   * Stored messages in seq order, then our pending sends in the order they were written. The
   * same (frozen) array until something changes, and an unchanged message keeps its object.
   */
  messages(): readonly ChatMessage[] {
    if (!this.sorted) {
      const stored = [...this.bySeq.entries()].sort(([a], [b]) => a - b).map(([, entry]) => this.view(entry));
      this.sorted = Object.freeze([...stored, ...[...this.pending.values()].map((entry) => this.view(entry))]);
    }
    return this.sorted;
  }

  get size(): number {
    return this.bySeq.size + this.pending.size;
  }

  get oldestSeq(): number | undefined {
    return this.minSeq;
  }

  get newestSeq(): number | undefined {
    return this.maxSeq;
  }

  /** Whether older messages exist than those here; undefined while nothing is known. */
  get hasOlder(): boolean | undefined {
    if (this.minSeq === undefined) return this.historyLoaded ? false : undefined;
    return this.minSeq > 1;
  }

  /** The cursor that continues below the oldest message here, when the last page gave one. */
  get cursorForOlder(): string | undefined {
    return this.olderCursor && this.olderCursor.belowSeq === this.minSeq ? this.olderCursor.cursor : undefined;
  }

  /** The seq ranges missing between the oldest and the newest message here (seq has no gaps). */
  gaps(): Array<{ fromSeq: number; toSeq: number }> {
    const gaps: Array<{ fromSeq: number; toSeq: number }> = [];
    if (this.minSeq === undefined || this.maxSeq === undefined || this.bySeq.size === this.maxSeq - this.minSeq + 1) return gaps;
    let start: number | undefined;
    for (let seq = this.minSeq; seq <= this.maxSeq; seq++) {
      const missing = !this.bySeq.has(seq);
      if (missing && start === undefined) start = seq;
      if (!missing && start !== undefined) {
        gaps.push({ fromSeq: start, toSeq: seq - 1 });
        start = undefined;
      }
    }
    return gaps;
  }

  /** The newest message from the other participant that is here. */
  newestIncoming(): ChatMessage | undefined {
    if (this.maxSeq === undefined || this.minSeq === undefined) return undefined;
    for (let seq = this.maxSeq; seq >= this.minSeq; seq--) {
      const entry = this.bySeq.get(seq);
      if (entry && !entry.own) return this.view(entry);
    }
    return undefined;
  }

  /** Messages from the other participant here that are newer than `seq` and not read. */
  unreadAfter(seq: number): number {
    let count = 0;
    for (const entry of this.bySeq.values()) if (!entry.own && (entry.seq ?? 0) > seq && !entry.readAt) count++;
    return count;
  }

  get incomingReadSeq(): number {
    return this.incomingRead.seq;
  }

  private remember(messageId: string, kind: ReceiptKind | 'incomingRead', at: string): void {
    const list = this.unresolved.get(messageId) ?? [];
    list.push({ kind, at });
    this.unresolved.set(messageId, list);
  }

  private raiseOwnMark(kind: ReceiptKind, seq: number, at: string): boolean {
    let changed = false;
    if (kind === 'read' && seq > this.ownRead.seq) {
      this.ownRead = { seq, at };
      changed = true;
    }
    if (seq > this.ownDelivered.seq) {
      this.ownDelivered = { seq, at };
      changed = true;
    }
    if (!changed) return false;
    let visible = false;
    for (const entry of this.bySeq.values()) if (entry.own && this.applyMarks(entry)) visible = true;
    return visible;
  }

  private markIncomingRead(seq: number, at: string): boolean {
    if (seq <= this.incomingRead.seq) return false;
    this.incomingRead = { seq, at };
    let visible = false;
    for (const entry of this.bySeq.values()) if (!entry.own && this.applyMarks(entry)) visible = true;
    return visible;
  }

  /** Brings one stored message up to the marks known here; true when it changed. */
  private applyMarks(entry: Entry): boolean {
    const seq = entry.seq ?? 0;
    const before = { status: entry.status, deliveredAt: entry.deliveredAt, readAt: entry.readAt };
    if (entry.own) {
      if (seq <= this.ownDelivered.seq) {
        entry.deliveredAt ??= this.ownDelivered.at;
        raise(entry, 'delivered');
      }
      if (seq <= this.ownRead.seq) {
        entry.readAt ??= this.ownRead.at;
        raise(entry, 'read');
      }
    } else if (seq <= this.incomingRead.seq && !entry.readAt) {
      entry.readAt = this.incomingRead.at;
      raise(entry, 'read');
    }
    const changed = entry.status !== before.status || entry.deliveredAt !== before.deliveredAt || entry.readAt !== before.readAt;
    if (changed) this.touched(entry);
    return changed;
  }

  /** The immutable snapshot of one message, made again only after it changed. */
  private view(entry: Entry): ChatMessage {
    let view = this.views.get(entry);
    if (!view) this.views.set(entry, (view = Object.freeze({ ...entry })));
    return view;
  }

  private touched(entry: Entry): void {
    this.views.delete(entry);
    this.sorted = undefined;
  }

  /** A message already here, seen again (a duplicate live event, a history page, a repeated ack). */
  private merge(entry: Entry, message: Message): boolean {
    let changed = false;
    if (message.deliveredAt && !entry.deliveredAt) {
      entry.deliveredAt = message.deliveredAt;
      changed = true;
    }
    if (message.readAt && !entry.readAt) {
      entry.readAt = message.readAt;
      changed = true;
    }
    const status = entry.own ? ownStatus(message) : message.readAt ? 'read' : 'delivered';
    if (raise(entry, status)) changed = true;
    return changed;
  }
}

function ownStatus(message: Message): MessageStatus {
  return message.readAt ? 'read' : message.deliveredAt ? 'delivered' : 'sent';
}

/** Status only moves forward: a late or repeated event never takes `read` back to `delivered`. */
function raise(entry: Entry, status: MessageStatus): boolean {
  if (RANK[status] <= RANK[entry.status]) return false;
  entry.status = status;
  return true;
}
