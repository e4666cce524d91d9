/**
 * Submitting results: validated with the shared results-document validator, scored against the labels the
 * server kept for the session, persisted under resultsDir.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultsDocument } from '../../../src/common/results-document.js';
import type { StreamServer } from '../../../src/stream/index.js';
import { ControlClient, FASHION_MNIST_DIR, receiveFrames, startTestServer, tempDir } from './helpers.js';

// True labels read independently of the server: skip the 8-byte IDX header.
const trueLabels = gunzipSync(
  readFileSync(path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')),
).subarray(8);
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';
const N = 200;

function resultsDocument(
  sessionId: string,
  seqs: number[],
  labelOf: (seq: number) => number,
): ResultsDocument {
  return {
    format: 'framesift-results/1',
    framesiftVersion: '0.1.0',
    sessionId,
    mode: 'classify',
    source: { name: 'fashion-mnist-test', width: 28, height: 28, channels: 1 },
    model: { file: 'fashion-mnist-cnn.onnx', sha256: 'ab'.repeat(32) },
    counts: {
      sent: N,
      received: N,
      processed: seqs.length,
      dropped: { 'ring-full': N - seqs.length },
      invalid: {},
      missing: 0,
    },
    reconciliation: { reconciled: true, missingRanges: [] },
    predictions: { seq: seqs, label: seqs.map(labelOf), confidence: seqs.map(() => 0.9) },
    samples: [3, 17, 150].map((seq) => ({ seq, label: labelOf(seq), confidence: 0.9, png: TINY_PNG })),
    summary: { predicted: seqs.length, perClass: [] },
    timings: {},
  };
}

let server: StreamServer;
let resultsDir: string;
let control: ControlClient;
let sessionId: string;
const all = [...Array(N).keys()];

beforeAll(async () => {
  resultsDir = await tempDir('framesift-scores-');
  server = await startTestServer({ resultsDir });
  control = await ControlClient.connect(server);
  const session = await control.request({ type: 'start', count: N, fps: 0 }, 'session');
  sessionId = session.sessionId as string;
  // Submitting before the session ended is refused.
  const early = await control.request(
    { type: 'submit', sessionId, results: resultsDocument(sessionId, all, (s) => trueLabels[s]!) },
    'scored',
  );
  expect(early).toMatchObject({ type: 'error', code: 'not-ready' });
  const received = await receiveFrames(session.framesUrl as string).done;
  expect(received.frames).toHaveLength(N);
  await control.nextOfType('end');
});
afterAll(async () => {
  control.close();
  await server.close();
});

describe('scoring a submission', () => {
  it('scores the true labels with accuracy 1.0, a diagonal confusion matrix and the sample labels', async () => {
    const scored = await control.request(
      { type: 'submit', sessionId, results: resultsDocument(sessionId, all, (s) => trueLabels[s]!) },
      'scored',
    );
    expect(scored).toMatchObject({
      type: 'scored',
      sessionId,
      accuracy: 1,
      sent: N,
      received: N,
      correct: N,
      predicted: N,
      coverage: 1,
      reconciled: true,
      sampleLabels: { '3': trueLabels[3], '17': trueLabels[17], '150': trueLabels[150] },
    });
    const confusion = scored.confusion as number[][];
    expect(confusion).toHaveLength(10);
    for (let c = 0; c < 10; c++) {
      const support = all.filter((s) => trueLabels[s] === c).length;
      expect(confusion[c]![c]).toBe(support);
      expect(confusion[c]!.reduce((a, b) => a + b, 0)).toBe(support);
    }
    const perClass = scored.perClass as Array<{
      label: number;
      precision: number;
      recall: number;
      support: number;
    }>;
    expect(perClass.every((p) => p.support === 0 || (p.precision === 1 && p.recall === 1))).toBe(true);

    // Persisted: the submission as sent and the score as answered.
    const dir = path.join(resultsDir, sessionId);
    const submission = JSON.parse(
      await readFile(path.join(dir, 'submission-1.json'), 'utf8'),
    ) as ResultsDocument;
    expect(submission.predictions.seq).toHaveLength(N);
    const score = JSON.parse(await readFile(path.join(dir, 'score-1.json'), 'utf8')) as {
      accuracy: number;
      sessionId: string;
    };
    expect(score).toMatchObject({ accuracy: 1, sessionId, type: 'scored' });
  });

  it('scores labels shifted by one frame as the fraction of neighbours that share a class', async () => {
    const shifted = (s: number) => trueLabels[s + 1]!;
    const expectedCorrect = all.filter((s) => trueLabels[s] === trueLabels[s + 1]).length;
    const scored = await control.request(
      { type: 'submit', sessionId, results: resultsDocument(sessionId, all, shifted) },
      'scored',
    );
    expect(scored.correct).toBe(expectedCorrect);
    expect(scored.accuracy).toBeCloseTo(expectedCorrect / N, 10);
    expect(expectedCorrect).toBeLessThan(N / 2);
    // Every class confused: the row sums are still the true class counts.
    const confusion = scored.confusion as number[][];
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(N);
    // Second submission of the session, persisted beside the first.
    const score = JSON.parse(await readFile(path.join(resultsDir, sessionId, 'score-2.json'), 'utf8')) as {
      correct: number;
    };
    expect(score.correct).toBe(expectedCorrect);
  });

  it('scores every class wrong when each label is off by one class', async () => {
    const scored = await control.request(
      {
        type: 'submit',
        sessionId,
        results: resultsDocument(sessionId, all, (s) => (trueLabels[s]! + 1) % 10),
      },
      'scored',
    );
    expect(scored).toMatchObject({ accuracy: 0, correct: 0, predicted: N });
    const perClass = scored.perClass as Array<{ precision: number | null; recall: number | null }>;
    expect(perClass.every((p) => p.precision === 0 && p.recall === 0)).toBe(true);
  });

  it('reports coverage and server-side reconciliation for a partial submission', async () => {
    const half = all.filter((s) => s % 2 === 0);
    const scored = await control.request(
      { type: 'submit', sessionId, results: resultsDocument(sessionId, half, (s) => trueLabels[s]!) },
      'scored',
    );
    expect(scored).toMatchObject({ accuracy: 1, predicted: N / 2, coverage: 0.5, reconciled: true });
    // A client that claims a different sent count, and frames it never accounted for, is not reconciled.
    const doc = resultsDocument(sessionId, half, (s) => trueLabels[s]!);
    doc.counts.sent = N + 5;
    doc.counts.received = N - 3;
    const bad = await control.request({ type: 'submit', sessionId, results: doc }, 'scored');
    expect(bad.reconciled).toBe(false);
    expect(bad.serverReconciliation).toMatchObject({
      sent: N,
      clientSent: N + 5,
      checks: { clientSentMatches: false, receivedPlusMissingEqualsSent: false },
    });
  });

  it('rejects an invalid document with invalid-results naming the first problems', async () => {
    const doc = resultsDocument(sessionId, all, (s) => trueLabels[s]!) as unknown as Record<string, unknown>;
    delete doc.counts;
    doc.mode = 'guess';
    const reply = await control.request({ type: 'submit', sessionId, results: doc }, 'scored');
    expect(reply).toMatchObject({ type: 'error', code: 'invalid-results' });
    expect(reply.message).toMatch(/\/counts is required/);
    expect(reply.message).toMatch(/\/mode must be one of/);
  });

  it('answers results that are not a document at all (42, an array, a string) with invalid-results', async () => {
    for (const results of [42, [1], 'doc', null]) {
      const reply = await control.request({ type: 'submit', sessionId, results }, 'scored');
      expect(reply).toMatchObject({ type: 'error', code: 'invalid-results' });
      expect(reply.message).toContain('(document) must be object');
    }
  });

  it('numbers resubmissions: each scored answer says which submission it is', async () => {
    const doc = resultsDocument(sessionId, all, (s) => trueLabels[s]!);
    const first = await control.request({ type: 'submit', sessionId, results: doc }, 'scored');
    const second = await control.request({ type: 'submit', sessionId, results: doc }, 'scored');
    expect(second.submission).toBe((first.submission as number) + 1);
  });

  it('rejects a document for another session', async () => {
    const doc = resultsDocument('someone-else', all, (s) => trueLabels[s]!);
    const reply = await control.request({ type: 'submit', sessionId, results: doc }, 'scored');
    expect(reply).toMatchObject({ type: 'error', code: 'invalid-results' });
    expect(reply.message).toContain('"someone-else" does not match');
  });
});
