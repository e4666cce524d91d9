import { describe, expect, it } from 'vitest';
import type { ResultsDocument } from '../../../src/common/results-document.js';
import { drawIndices, scoreSubmission } from '../../../src/stream/index.js';

function doc(
  seq: number[],
  label: number[],
  counts: Partial<ResultsDocument['counts']> = {},
): ResultsDocument {
  return {
    format: 'framesift-results/1',
    framesiftVersion: '0.1.0',
    sessionId: 's',
    mode: 'classify',
    source: { name: 'fashion-mnist-test' },
    model: null,
    counts: { sent: 6, received: 6, processed: 6, dropped: {}, invalid: {}, missing: 0, ...counts },
    reconciliation: { reconciled: true, missingRanges: [] },
    predictions: { seq, label, confidence: seq.map(() => 0.5) },
    samples: [{ seq: 4, label: 1, confidence: 0.5, png: 'AAAAAAAA' }],
    summary: { predicted: seq.length, perClass: [] },
    timings: {},
  };
}

describe('scoreSubmission', () => {
  const truth = [0, 0, 1, 1, 2, 2];

  it('computes accuracy, per-class precision/recall and the confusion matrix', () => {
    const score = scoreSubmission(doc([0, 1, 2, 3, 4, 5], [0, 1, 1, 1, 2, 0]), 6, truth);
    expect(score).toMatchObject({
      accuracy: 4 / 6,
      correct: 4,
      predicted: 6,
      coverage: 1,
      reconciled: true,
      sampleLabels: { '4': 2 },
    });
    expect(score.confusion[0]!.slice(0, 3)).toEqual([1, 1, 0]);
    expect(score.confusion[1]!.slice(0, 3)).toEqual([0, 2, 0]);
    expect(score.confusion[2]!.slice(0, 3)).toEqual([1, 0, 1]);
    expect(score.perClass[0]).toEqual({ label: 0, precision: 0.5, recall: 0.5, support: 2 });
    expect(score.perClass[1]).toEqual({ label: 1, precision: 2 / 3, recall: 1, support: 2 });
    expect(score.perClass[2]).toEqual({ label: 2, precision: 1, recall: 0.5, support: 2 });
    expect(score.perClass[5]).toEqual({ label: 5, precision: null, recall: null, support: 0 });
  });

  it('ignores predictions for seqs never sent and flags them in the reconciliation', () => {
    const score = scoreSubmission(doc([0, 9], [0, 3]), 6, truth);
    expect(score).toMatchObject({ predicted: 1, correct: 1, coverage: 1 / 6, reconciled: false });
    expect(score.serverReconciliation.predictionsOutsideSession).toBe(1);
  });

  it('counts out-of-range predicted labels as wrong without widening the matrix', () => {
    const score = scoreSubmission(doc([0, 1], [65535, 0]), 6, truth);
    expect(score).toMatchObject({ predicted: 2, correct: 1, accuracy: 0.5 });
    expect(score.confusion).toHaveLength(10);
    expect(score.serverReconciliation.predictedLabelsOutOfRange).toBe(1);
  });

  it('checks the client counts against what the server sent, with the one rule the client uses', () => {
    const counts = {
      received: 6,
      missing: 1,
      processed: 3,
      dropped: { 'ring-full': 1 },
      // bad-magic names no frame: 5 received with their seq + 1 missing = 6 sent.
      invalid: { undecodable: 1, 'bad-magic': 1 },
    };
    const ok = scoreSubmission(doc([0], [0], counts), 6, truth);
    expect(ok.reconciled).toBe(true);
    expect(ok.serverReconciliation.unattributed).toBe(1);
    // Reconciled, but a frame is missing: not complete.
    expect(ok.verdict).toMatchObject({ complete: false, reasons: ['frames-missing'] });
    // A client that never learned `sent`, or learned another figure, does not reconcile.
    expect(scoreSubmission(doc([0], [0], { ...counts, sent: null }), 6, truth).reconciled).toBe(false);
    const other = scoreSubmission(doc([0], [0], { ...counts, sent: 7 }), 6, truth);
    expect(other.reconciled).toBe(false);
    expect(other.serverReconciliation.explanation).toContain('the server sent 6');
    // How the session ended on the server enters the verdict.
    const stopped = scoreSubmission(doc([0], [0]), 6, truth, { kind: 'stopped', count: 10 });
    expect(stopped).toMatchObject({ reconciled: true, verdict: { complete: false, reasons: ['stopped'] } });
    const bad = scoreSubmission(doc([0], [0], { received: 5, missing: 0 }), 6, truth);
    expect(bad.serverReconciliation.checks).toMatchObject({
      receivedPlusMissingEqualsSent: false,
      receivedEqualsProcessedPlusDroppedPlusInvalid: false,
    });
  });

  it('has no accuracy for an unlabelled source or an empty submission', () => {
    expect(scoreSubmission(doc([0, 1], [0, 0]), 6, undefined)).toMatchObject({
      accuracy: null,
      labelled: false,
      predicted: 0,
    });
    expect(scoreSubmission(doc([], []), 6, truth).accuracy).toBeNull();
  });
});

describe('drawIndices', () => {
  it('draws distinct indices, the same for the same seed', () => {
    const a = drawIndices(10_000, 500, 42);
    expect(new Set(a).size).toBe(500);
    expect(a.every((i) => i >= 0 && i < 10_000)).toBe(true);
    expect(drawIndices(10_000, 500, 42)).toEqual(a);
    expect(drawIndices(10_000, 500, 43)).not.toEqual(a);
    expect(drawIndices(5, 5, 1).sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
