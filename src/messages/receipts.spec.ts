import { describe, expect, it } from 'vitest';
import { applyReceipt, type ReceiptKind, type Watermarks } from './receipts.js';

const NONE: Watermarks = { deliveredSeq: 0, readSeq: 0 };

describe('receipts', () => {
  it('stamp the range above the watermark of their kind, up to and including the target', () => {
    expect(applyReceipt(NONE, 'delivered', 3)).toEqual({ next: { deliveredSeq: 3, readSeq: 0 }, stamps: { after: 0, upTo: 3 } });
    expect(applyReceipt({ deliveredSeq: 3, readSeq: 1 }, 'delivered', 7).stamps).toEqual({ after: 3, upTo: 7 });
    expect(applyReceipt({ deliveredSeq: 3, readSeq: 1 }, 'read', 7).stamps).toEqual({ after: 1, upTo: 7 });
  });

  it('read implies delivered: a read moves both watermarks, a delivery only its own', () => {
    expect(applyReceipt(NONE, 'read', 4).next).toEqual({ deliveredSeq: 4, readSeq: 4 });
    expect(applyReceipt({ deliveredSeq: 2, readSeq: 2 }, 'delivered', 5).next).toEqual({ deliveredSeq: 5, readSeq: 2 });
    // A delivery watermark already past the read target stays where it is.
    expect(applyReceipt({ deliveredSeq: 9, readSeq: 2 }, 'read', 5).next).toEqual({ deliveredSeq: 9, readSeq: 5 });
  });

  it('never move backwards: a receipt at or behind its watermark changes nothing and stamps nothing', () => {
    const current = { deliveredSeq: 6, readSeq: 4 };
    for (const [kind, seq] of [
      ['delivered', 6],
      ['delivered', 1],
      ['read', 4],
      ['read', 2],
    ] as Array<[ReceiptKind, number]>) {
      expect(applyReceipt(current, kind, seq), `${kind} ${seq}`).toEqual({ next: current });
    }
    // A delivery behind an earlier read is behind too: the read delivered it.
    expect(applyReceipt({ deliveredSeq: 8, readSeq: 8 }, 'delivered', 5)).toEqual({ next: { deliveredSeq: 8, readSeq: 8 } });
  });

  it('keep delivered at or above read and end at the highest target of each kind, in any order', () => {
    const receipts: Array<[ReceiptKind, number]> = [
      ['delivered', 3],
      ['read', 5],
      ['delivered', 4],
      ['read', 2],
      ['delivered', 9],
      ['read', 7],
    ];
    // Every order of the same receipts ends at the same watermarks (they commute), delivered >= read on the way.
    const orders = [receipts, [...receipts].reverse(), [receipts[4]!, receipts[1]!, receipts[5]!, receipts[0]!, receipts[3]!, receipts[2]!]];
    for (const order of orders) {
      let current = NONE;
      for (const [kind, seq] of order) {
        current = applyReceipt(current, kind, seq).next;
        expect(current.deliveredSeq).toBeGreaterThanOrEqual(current.readSeq);
      }
      expect(current).toEqual({ deliveredSeq: 9, readSeq: 7 });
    }
  });
});
