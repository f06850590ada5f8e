/**
 * The rules of receipts (CONTRACT §3.1 markAsDelivered / markAsRead), as code: the repository's
 * receipt statement is built from `RECEIPT_RULES` and does, in one statement on the conversation
 * and message rows, what `applyReceipt` does on plain values (test/integration/messages.repository.spec.ts
 * checks that they agree).
 *
 * A receipt always says "everything addressed to me up to and including this message", so each
 * participant's receipts are two high-water marks (watermarks) over the conversation's gap-free
 * seq: every message addressed to them with seq <= `deliveredSeq` is delivered, <= `readSeq` read.
 */

export type ReceiptKind = 'delivered' | 'read';

/** One participant's watermarks (`a_`/`b_` `delivered_seq`, `read_seq` on the conversation row). */
export interface Watermarks {
  deliveredSeq: number;
  readSeq: number;
}

export interface ReceiptRule {
  /** The watermarks the receipt moves, and the marks (`delivered_at`, `read_at`) it stamps on messages. */
  readonly moves: readonly ReceiptKind[];
  /** Whether the messages it newly stamps come off the participant's unread counter. */
  readonly countsAsRead: boolean;
}

/**
 * Read implies delivered: a read moves both watermarks and stamps a message delivered too when it
 * was not yet (an earlier delivery time is kept). One event per receipt that marked something, of
 * the receipt's own kind: a read that also delivers is told as a read only (CONTRACT §3.2, §8).
 */
export const RECEIPT_RULES: Readonly<Record<ReceiptKind, ReceiptRule>> = {
  delivered: { moves: ['delivered'], countsAsRead: false },
  read: { moves: ['read', 'delivered'], countsAsRead: true },
};

/** The watermark of a kind. */
function watermark(marks: Watermarks, kind: ReceiptKind): number {
  return kind === 'read' ? marks.readSeq : marks.deliveredSeq;
}

/** What a receipt up to `targetSeq` changes for the participant whose watermarks are `current`. */
export interface ReceiptEffect {
  /** The watermarks afterwards: each one only ever moves forward, and `deliveredSeq >= readSeq` holds. */
  next: Watermarks;
  /**
   * The messages it stamps: those addressed to the participant with seq in (after, upTo] not yet
   * stamped with the receipt's kind (their newest is the one the event names). Absent when the
   * receipt is not ahead of its kind's watermark: it then changes nothing and tells no one.
   */
  stamps?: { after: number; upTo: number };
}

export function applyReceipt(current: Watermarks, kind: ReceiptKind, targetSeq: number): ReceiptEffect {
  const from = watermark(current, kind);
  if (targetSeq <= from) return { next: current };
  const moves = RECEIPT_RULES[kind].moves;
  const moved = (of: ReceiptKind) => (moves.includes(of) ? Math.max(watermark(current, of), targetSeq) : watermark(current, of));
  return { next: { deliveredSeq: moved('delivered'), readSeq: moved('read') }, stamps: { after: from, upTo: targetSeq } };
}
