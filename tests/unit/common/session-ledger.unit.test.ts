import { describe, expect, it } from 'vitest';
import {
  SeqOutcomes,
  SessionLedger,
  formatRanges,
  judgeSession,
  reconcileCounts,
  type SessionCounts,
} from '../../../src/common/session/index.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Frames received, admitted and processed, as the listener and the routing do. */
function processAll(ledger: SessionLedger, seqs: Iterable<number>): void {
  for (const seq of seqs) {
    ledger.receive();
    expect(ledger.admit(seq)).toBeUndefined();
    expect(ledger.process(seq)).toBe(true);
  }
}

function gaps(received: number[], end: number): Array<[number, number]> {
  const outcomes = new SeqOutcomes();
  for (const seq of received) outcomes.set(seq, 2);
  return outcomes.missingRanges(end);
}

describe('SeqOutcomes (sparse per-seq record)', () => {
  it('lists the never-seen seqs as inclusive ranges, across chunk boundaries', () => {
    expect(gaps([0, 1, 2, 5, 6, 9], 12)).toEqual([
      [3, 4],
      [7, 8],
      [10, 11],
    ]);
    expect(gaps([], 3)).toEqual([[0, 2]]);
    expect(gaps([2, 0, 1], 3)).toEqual([]);
    const received = [...range(0, 7), ...range(9, 1020), ...range(1030, 5000)];
    expect(gaps(received, 5010)).toEqual([
      [7, 8],
      [1020, 1029],
      [5000, 5009],
    ]);
    // Chunks never touched are one range, found without walking them seq by seq.
    expect(gaps([0, 300_000], 300_001)).toEqual([[1, 299_999]]);
  });

  it('agrees with a naive scan on random sets', () => {
    let state = 12345;
    const random = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 8; trial++) {
      const end = 1 + Math.floor(random() * 20_000);
      const received = range(0, end).filter(() => random() < 0.97);
      const naive: Array<[number, number]> = [];
      const set = new Set(received);
      for (let seq = 0; seq < end; seq++) {
        if (set.has(seq)) continue;
        const last = naive[naive.length - 1];
        if (last && last[1] === seq - 1) last[1] = seq;
        else naive.push([seq, seq]);
      }
      expect(gaps(received, end)).toEqual(naive);
    }
  });

  it('keeps a wild seq cheap: one small chunk, not an array up to it', () => {
    const outcomes = new SeqOutcomes();
    outcomes.set(0xfffffff0, 2);
    expect(outcomes.size).toBe(1);
    expect(outcomes.maxSeq).toBe(0xfffffff0);
    expect(outcomes.get(0xfffffff0)).toBe(2);
    expect(outcomes.get(5)).toBe(0);
    expect(outcomes.missingRanges(10)).toEqual([[0, 9]]);
  });
});

describe('the one reconcile rule', () => {
  // Defect 1: the old processing accounting said "not reconciled" here and the results stage said
  // "reconciled"; both ends now apply this one rule.
  it('reconciles 10 sent, 8 received and processed, 2 reported missing', () => {
    const ledger = new SessionLedger({ count: 10 });
    processAll(ledger, [0, 1, 2, 3, 5, 6, 7, 8]);
    const r = ledger.reconcile(10);
    expect(r.reconciled).toBe(true);
    expect(r.missingRanges).toEqual([
      [4, 4],
      [9, 9],
    ]);
    expect(ledger.counts(10)).toEqual({
      sent: 10,
      received: 8,
      processed: 8,
      dropped: {},
      invalid: {},
      missing: 2,
    });
    // The same counts give the same answer from the document alone (what the server does).
    expect(reconcileCounts(ledger.counts(10)).reconciled).toBe(true);
    // Reconciled, yet not complete: frames are missing.
    const verdict = judgeSession({ reconciled: true, missing: 2, sent: 10, ending: { kind: 'ended' } });
    expect(verdict).toMatchObject({ complete: false, reasons: ['frames-missing'] });
  });

  it('accounts for drops and invalid frames by typed reason', () => {
    const ledger = new SessionLedger({ count: 6 });
    processAll(ledger, [0, 1, 2]);
    ledger.receive();
    ledger.admit(3);
    expect(ledger.drop('ring-full', 3)).toBe(true);
    ledger.receive();
    ledger.admit(4);
    expect(ledger.invalid('undecodable', 4)).toBe('undecodable');
    ledger.receive();
    expect(ledger.invalid('bad-payload-length', 5)).toBe('bad-payload-length');
    ledger.receive();
    expect(ledger.invalid('text-message')).toBe('text-message');
    const counts = ledger.counts(6);
    expect(counts).toEqual({
      sent: 6,
      received: 7,
      processed: 3,
      dropped: { 'ring-full': 1 },
      invalid: { undecodable: 1, 'bad-payload-length': 1, 'text-message': 1 },
      missing: 0,
    });
    const r = reconcileCounts(counts);
    expect(r).toMatchObject({ reconciled: true, unattributed: 1, droppedTotal: 1, invalidTotal: 3 });
    expect(r.explanation).toContain('1 more named no frame of the session');
  });

  it('does not reconcile when a received frame has no outcome, or without a sent figure', () => {
    const ledger = new SessionLedger();
    processAll(ledger, [0, 1]);
    ledger.receive();
    ledger.admit(2); // still in the pipeline
    expect(ledger.reconcile(3)).toMatchObject({
      reconciled: false,
      receivedEqualsProcessedPlusDroppedPlusInvalid: false,
    });
    const unknown = ledger.reconcile(null);
    expect(unknown.reconciled).toBe(false);
    expect(unknown.sentEqualsReceivedPlusMissing).toBeNull();
    expect(unknown.explanation).toContain('never reported how many frames it sent');
  });

  it('does not reconcile counts whose sent is not received + missing (a server that counts otherwise)', () => {
    const counts: SessionCounts = {
      sent: 12,
      received: 10,
      processed: 10,
      dropped: {},
      invalid: {},
      missing: 0,
    };
    const r = reconcileCounts(counts);
    expect(r.reconciled).toBe(false);
    expect(r.explanation).toContain('sent 12 ≠ 10 received with their own seq + 0 missing');
  });
});

describe('seq admission (defect 2: a wild seq)', () => {
  it('refuses a seq at or beyond the announced count without storing it', () => {
    const ledger = new SessionLedger({ count: 10 });
    processAll(ledger, range(0, 9));
    ledger.receive();
    expect(ledger.admit(0xfffffff0)).toBe('seq-out-of-range');
    expect(ledger.maxSeq).toBe(8);
    // A header error on a wild seq is counted under the seq's own problem.
    ledger.receive();
    expect(ledger.invalid('bad-dimensions', 0xfffffff1)).toBe('seq-out-of-range');
    const r = ledger.reconcile(10);
    expect(ledger.counts(10)).toMatchObject({ received: 11, processed: 9, missing: 1 });
    expect(ledger.counts(10).invalid).toEqual({ 'seq-out-of-range': 2 });
    expect(r).toMatchObject({ reconciled: true, missingRanges: [[9, 9]], unattributed: 2 });
  });

  it('refuses a repeated seq', () => {
    const ledger = new SessionLedger();
    processAll(ledger, [0]);
    ledger.receive();
    expect(ledger.admit(0)).toBe('duplicate-seq');
    expect(ledger.counts(1)).toMatchObject({ received: 2, processed: 1, invalid: { 'duplicate-seq': 1 } });
    expect(ledger.reconcile(1).reconciled).toBe(true);
  });

  it('with no count announced, counts a seq beyond the final sent as out of range, not as processed', () => {
    const ledger = new SessionLedger();
    processAll(ledger, [...range(0, 9), 0xfffffff0]);
    expect(ledger.processed).toBe(10);
    const counts = ledger.counts(10);
    expect(counts).toEqual({
      sent: 10,
      received: 10,
      processed: 9,
      dropped: {},
      invalid: { 'seq-out-of-range': 1 },
      missing: 1,
    });
    expect(ledger.beyond(10)).toEqual([0xfffffff0]);
    expect(ledger.reconcile(10)).toMatchObject({ reconciled: true, missingRanges: [[9, 9]] });
  });
});

describe('the verdict', () => {
  it('is complete only when reconciled, nothing missing, and the session ended as it should', () => {
    const ok = { reconciled: true, missing: 0, sent: 10 };
    expect(judgeSession({ ...ok, ending: { kind: 'ended' } })).toEqual({
      complete: true,
      reasons: [],
      explanation: 'complete',
    });
    expect(judgeSession({ ...ok, sent: 4, ending: { kind: 'stopped', count: 10 } }).reasons).toEqual([
      'stopped',
    ]);
    // An endless source ends only by a stop: that is not a failure.
    expect(judgeSession({ ...ok, ending: { kind: 'stopped' } }).complete).toBe(true);
    expect(
      judgeSession({ ...ok, ending: { kind: 'ended-early', reason: 'frame-socket-closed' } }).reasons,
    ).toEqual(['frame-socket-closed']);
    const lost = judgeSession({
      reconciled: false,
      missing: 3,
      sent: null,
      ending: { kind: 'lost', reason: 'no-end' },
    });
    expect(lost.reasons).toEqual(['no-end', 'not-reconciled', 'frames-missing']);
    expect(lost.explanation).toMatch(/^incomplete: .*without an "end" message \(no-end\)/);
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
