import { describe, expect, it } from 'vitest';
import { validateResultsDocument, type ResultsDocument } from '../../../src/common/results-document.js';

// A 1×1 PNG, base64: a real image so the fixture looks like what run submits.
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

function goodDocument(): ResultsDocument {
  return {
    format: 'framesift-results/1',
    framesiftVersion: '0.1.0',
    sessionId: 'sess-1',
    mode: 'classify',
    createdAt: '2026-01-02T03:04:05.678Z',
    source: { name: 'fashion-mnist-test', width: 28, height: 28, channels: 1 },
    model: { file: 'fashion-mnist-cnn.onnx', sha256: 'ab'.repeat(32) },
    counts: { sent: 5, received: 4, processed: 3, dropped: { 'ring-full': 1 }, invalid: {}, missing: 1 },
    reconciliation: { reconciled: true, missingRanges: [[2, 2]] },
    predictions: { seq: [0, 1, 3], label: [9, 2, 1], confidence: [0.9876, 0.5, 1] },
    samples: [{ seq: 0, label: 9, confidence: 0.9876, png: TINY_PNG }],
    summary: { predicted: 3, perClass: [{ label: 9, count: 1, meanConfidence: 0.9876 }] },
    timings: { startedAt: '2026-01-02T03:04:05.678Z', durationMs: 12.5 },
  };
}

// Tests break documents on purpose, so the copy they edit is typed loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

/** A deep copy with one edit: the validator takes unknown input. */
function edited(edit: (doc: Loose) => void): unknown {
  const doc = structuredClone(goodDocument()) as Loose;
  edit(doc);
  return doc;
}

function errorsOf(doc: unknown): string {
  const result = validateResultsDocument(doc);
  if (result.ok) throw new Error('expected the document to be rejected');
  return result.errors;
}

describe('validateResultsDocument', () => {
  it('accepts a complete document and returns it typed', () => {
    const result = validateResultsDocument(goodDocument());
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.document.sessionId).toBe('sess-1');
  });

  it('accepts a null model, a null sent count and a dedupe section', () => {
    const doc = edited((d) => {
      d.model = null;
      d.counts.sent = null;
      d.mode = 'both';
      d.dedupe = {
        method: 'cnn',
        threshold: 0.1,
        metric: 'cosine',
        uniques: 3,
        duplicates: 1,
        savedFolders: [],
      };
    });
    expect(validateResultsDocument(doc)).toMatchObject({ ok: true });
  });

  it('names a missing core field by its path', () => {
    expect(errorsOf(edited((d) => delete d.sessionId))).toBe('/sessionId is required');
    expect(errorsOf(edited((d) => delete d.counts.missing))).toBe('/counts/missing is required');
    expect(errorsOf(edited((d) => delete d.predictions.confidence))).toContain(
      '/predictions/confidence is required',
    );
  });

  it('names wrong types and values by path, on one line', () => {
    const errors = errorsOf(
      edited((d) => {
        d.counts.received = '4';
        d.mode = 'guess';
      }),
    );
    expect(errors).toContain('/mode must be one of "classify", "dedupe", "both"');
    expect(errors).toContain('/counts/received must be integer');
    expect(errors).not.toContain('\n');
    expect(errorsOf(edited((d) => (d.model = 'cnn')))).toBe('/model must be null or object');
    expect(errorsOf(edited((d) => (d.model.sha256 = 'xyz')))).toContain('/model/sha256 must match pattern');
    expect(errorsOf(edited((d) => (d.predictions.confidence[1] = 1.5)))).toBe(
      '/predictions/confidence/1 must be <= 1',
    );
    expect(errorsOf(edited((d) => (d.counts.dropped['ring-full'] = -1)))).toContain(
      '/counts/dropped/ring-full must be >= 0',
    );
    expect(errorsOf(edited((d) => (d.format = 'other/2')))).toBe('/format must be "framesift-results/1"');
    expect(errorsOf(edited((d) => (d.createdAt = 'yesterday')))).toContain('/createdAt must match pattern');
    // The schema's pattern fixes the RFC 3339 form (so any JSON Schema validator checks it); the date must
    // also exist.
    expect(errorsOf(edited((d) => (d.timings.startedAt = '2026-13-45T25:61:00Z')))).toBe(
      '/timings/startedAt must match format "date-time"',
    );
    expect(errorsOf(edited((d) => (d.samples[0].png = 'not base64!')))).toContain(
      '/samples/0/png must match pattern',
    );
    expect(errorsOf(null)).toBe('(document) must be object');
  });

  it('limits the message to the first few failing paths', () => {
    const errors = errorsOf({});
    expect(errors.split('; ').length).toBe(4);
    expect(errors).toMatch(/; and \d+ more$/);
  });

  it('rejects columns of different lengths and unsorted or repeated seqs', () => {
    expect(errorsOf(edited((d) => d.predictions.label.pop()))).toContain(
      '/predictions columns must have equal lengths (seq 3, label 2, confidence 3)',
    );
    expect(errorsOf(edited((d) => (d.predictions.seq = [0, 3, 1])))).toContain(
      '/predictions/seq/2 must be greater',
    );
    expect(errorsOf(edited((d) => (d.predictions.seq = [0, 1, 1])))).toContain(
      '/predictions/seq/2 must be greater',
    );
    expect(errorsOf(edited((d) => (d.reconciliation.missingRanges = [[5, 2]])))).toContain(
      '/reconciliation/missingRanges/0 must have from <= to',
    );
  });
});
