import { describe, expect, it } from 'vitest';
import { SessionAccounting } from '../../../src/processing/accounting.js';

describe('SessionAccounting', () => {
  it('reports gaps in seq as missing ranges and reconciles only when every frame is accounted for', () => {
    const a = new SessionAccounting();
    for (const seq of [0, 1, 2, 5, 6, 9]) {
      a.countReceived();
      expect(a.markSeen(seq)).toBe(true);
    }
    a.countProcessed(5);
    a.countDropped('ring-full');
    expect(a.missingRanges(12)).toEqual([
      [3, 4],
      [7, 8],
      [10, 11],
    ]);
    expect(a.counts(12)).toEqual({
      sent: 12,
      received: 6,
      processed: 5,
      dropped: { 'ring-full': 1 },
      invalid: {},
      missing: 6,
    });
    expect(a.reconcile(12).reconciled).toBe(false);
    expect(a.reconcile(null).missingRanges).toEqual([
      [3, 4],
      [7, 8],
    ]);
  });

  it('spots duplicates and grows for large seqs', () => {
    const a = new SessionAccounting();
    expect(a.markSeen(100_000)).toBe(true);
    expect(a.markSeen(100_000)).toBe(false);
    expect(a.hasSeen(99_999)).toBe(false);
    expect(a.maxSeq).toBe(100_000);
  });

  it('reconciles a complete session', () => {
    const a = new SessionAccounting();
    for (let seq = 0; seq < 10; seq++) {
      a.countReceived();
      a.markSeen(seq);
    }
    a.countProcessed(8);
    a.countInvalid('bad-magic');
    a.countDropped('worker-error');
    expect(a.settled).toBe(10);
    expect(a.reconcile(10)).toEqual({ reconciled: true, missingRanges: [] });
    expect(a.reconcile(11).reconciled).toBe(false);
  });
});
