import { describe, expect, it } from 'vitest';
import { SeqBitmap, formatRanges, gapRanges, reconcile } from '../../../src/results/reconcile.js';

function seen(seqs: Iterable<number>): SeqBitmap {
  const bitmap = new SeqBitmap();
  for (const seq of seqs) bitmap.mark(seq);
  return bitmap;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('gapRanges', () => {
  it('lists the never-received seqs as inclusive ranges', () => {
    expect(gapRanges([0, 1, 2, 5, 6, 9], 12)).toEqual([
      [3, 4],
      [7, 8],
      [10, 11],
    ]);
    expect(gapRanges([], 3)).toEqual([[0, 2]]);
    expect(gapRanges([0, 1, 2], 3)).toEqual([]);
    expect(gapRanges([2, 0, 1], 3)).toEqual([]);
    expect(gapRanges([1], 2)).toEqual([[0, 0]]);
  });

  it('is exact across byte and chunk boundaries (8-seq bytes, 65,536-seq chunks)', () => {
    const received = [...range(0, 7), ...range(9, 65_530), ...range(65_540, 200_000)];
    expect(gapRanges(received, 200_010)).toEqual([
      [7, 8],
      [65_530, 65_539],
      [200_000, 200_009],
    ]);
    // A whole chunk never touched is one range, found without walking it seq by seq.
    expect(gapRanges([0, 300_000], 300_001)).toEqual([[1, 299_999]]);
  });

  it('agrees with a naive scan on random sets', () => {
    let state = 12345;
    const random = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 8; trial++) {
      const end = 1 + Math.floor(random() * 70_000);
      const received = range(0, end).filter(() => random() < 0.97);
      const naive: Array<[number, number]> = [];
      const set = new Set(received);
      for (let seq = 0; seq < end; seq++) {
        if (set.has(seq)) continue;
        const last = naive[naive.length - 1];
        if (last && last[1] === seq - 1) last[1] = seq;
        else naive.push([seq, seq]);
      }
      expect(gapRanges(received, end)).toEqual(naive);
    }
  });
});

describe('SeqBitmap', () => {
  it('counts distinct seqs, reports repeats, and keeps a wild seq cheap', () => {
    const bitmap = new SeqBitmap();
    expect(bitmap.mark(3)).toBe(true);
    expect(bitmap.mark(3)).toBe(false);
    expect(bitmap.mark(4_294_967_295)).toBe(true);
    expect(bitmap.size).toBe(2);
    expect(bitmap.maxSeq).toBe(4_294_967_295);
    expect(bitmap.has(3)).toBe(true);
    expect(bitmap.has(2)).toBe(false);
    expect(bitmap.countBelow(10)).toBe(1);
    expect(() => bitmap.mark(-1)).toThrow(RangeError);
  });
});

describe('reconcile', () => {
  it('reconciles when every frame is received and processed', () => {
    const r = reconcile({
      sent: 5,
      received: 5,
      processed: 5,
      dropped: {},
      invalid: {},
      seen: seen(range(0, 5)),
    });
    expect(r).toMatchObject({
      reconciled: true,
      missing: 0,
      missingRanges: [],
      droppedTotal: 0,
      invalidTotal: 0,
    });
  });

  it('accounts for gaps, drops and invalid frames', () => {
    // 100 sent; 90-94 and 97 lost in transit; 3 dropped (ring full), 2 invalid.
    const received = range(0, 100).filter((s) => !(s >= 90 && s <= 94) && s !== 97);
    const r = reconcile({
      sent: 100,
      received: received.length,
      processed: received.length - 5,
      dropped: { 'ring-full': 3 },
      invalid: { 'bad-size': 1, 'decode-failed': 1 },
      seen: seen(received),
    });
    expect(r.missing).toBe(6);
    expect(r.missingRanges).toEqual([
      [90, 94],
      [97, 97],
    ]);
    expect(r.droppedTotal).toBe(3);
    expect(r.invalidTotal).toBe(2);
    expect(r.sentEqualsReceivedPlusMissing).toBe(true);
    expect(r.receivedEqualsProcessedPlusDroppedPlusInvalid).toBe(true);
    expect(r.reconciled).toBe(true);
    expect(r.explanation).toContain('sent 100 = received 94 + missing 6');
  });

  it('counts frames lost at the end of the stream as missing', () => {
    const r = reconcile({
      sent: 10,
      received: 7,
      processed: 7,
      dropped: {},
      invalid: {},
      seen: seen(range(0, 7)),
    });
    expect(r.missingRanges).toEqual([[7, 9]]);
    expect(r.reconciled).toBe(true);
  });

  it('does not reconcile when a processed frame is unaccounted for', () => {
    const r = reconcile({
      sent: 4,
      received: 4,
      processed: 2,
      dropped: { 'ring-full': 1 },
      invalid: {},
      seen: seen(range(0, 4)),
    });
    expect(r.reconciled).toBe(false);
    expect(r.receivedEqualsProcessedPlusDroppedPlusInvalid).toBe(false);
    expect(r.explanation).toBe('not reconciled: received 4 ≠ processed 2 + dropped 1 + invalid 0');
  });

  it('does not reconcile when the server counts differently from the seqs received', () => {
    // A frame arrived twice as "received" but its seq only once: sent ≠ received + missing.
    const r = reconcile({
      sent: 3,
      received: 4,
      processed: 4,
      dropped: {},
      invalid: {},
      seen: seen([0, 1, 2, 2]),
    });
    expect(r.sentEqualsReceivedPlusMissing).toBe(false);
    expect(r.reconciled).toBe(false);
    // Seqs beyond what the server says it sent are reported.
    const beyond = reconcile({
      sent: 2,
      received: 3,
      processed: 3,
      dropped: {},
      invalid: {},
      seen: seen([0, 1, 2]),
    });
    expect(beyond.beyondSent).toBe(1);
    expect(beyond.reconciled).toBe(false);
  });

  it('cannot reconcile without a sent count, but still measures gaps up to the highest seq', () => {
    const r = reconcile({
      sent: null,
      received: 3,
      processed: 3,
      dropped: {},
      invalid: {},
      seen: seen([0, 2, 5]),
    });
    expect(r.sentEqualsReceivedPlusMissing).toBeNull();
    expect(r.missingRanges).toEqual([
      [1, 1],
      [3, 4],
    ]);
    expect(r.reconciled).toBe(false);
    expect(r.explanation).toContain('never reported how many frames it sent');
  });
});

describe('formatRanges', () => {
  it('reads like a person writes it, and stays short', () => {
    expect(formatRanges([])).toBe('none');
    expect(
      formatRanges([
        [3, 3],
        [5, 9],
      ]),
    ).toBe('3, 5–9');
    const many = range(0, 30).map((i): [number, number] => [i * 10, i * 10 + 1]);
    expect(formatRanges(many, 2)).toBe('0–1, 10–11 … and 28 more range(s)');
  });
});
