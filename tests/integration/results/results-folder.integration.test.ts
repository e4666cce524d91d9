import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordedSession } from '../../helpers/recorded-session.js';
import { validateResultsDocument, type ResultsDocument } from '../../../src/common/results-document.js';
import {
  formatTerminalSummary,
  writeResultsFolder,
  writeScore,
  writeSubmissionError,
  type SessionOutcome,
} from '../../../src/results/index.js';
import { FASHION_MNIST_CLASSES } from '../../../src/results/labels.js';
import { readScore } from '../../../src/results/score.js';
import { SAMPLE_MIN_SIDE } from '../../../src/results/render.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { readFashionMnistTest, type FashionMnistTest } from './fashion-mnist-fixture.js';
import { expectResultsFolderFiles } from './folder-files.js';

const FRAMES = 1000;
const BAND_HEIGHT = 64;

let data: FashionMnistTest;
let outDir: string;

beforeAll(async () => {
  data = await readFashionMnistTest(FRAMES);
  outDir = await mkdtemp(path.join(os.tmpdir(), 'framesift-results-'));
});

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

/**
 * A session over real Fashion-MNIST frames. Predictions are the true labels except every 9th frame, which
 * is predicted wrong with the lowest confidence of its class (so the least-confident samples are wrong and
 * the most-confident right). Frames 40-44 never arrive, 300 is dropped, 301 is invalid.
 */
function recordSession(): { recorder: RecordedSession; predicted: Map<number, number> } {
  const recorder = new RecordedSession();
  const predicted = new Map<number, number>();
  const t0 = Date.now() - 5000;
  for (let seq = 0; seq < FRAMES; seq++) {
    if (seq >= 40 && seq <= 44) continue;
    recorder.received(seq);
    if (seq === 300) {
      recorder.dropped('ring-full', seq);
      continue;
    }
    if (seq === 301) {
      recorder.invalid('bad-payload-length', seq);
      continue;
    }
    const truth = data.labels[seq] as number;
    const wrong = seq % 9 === 0;
    const label = wrong ? (truth + 3) % 10 : truth;
    const confidence = wrong ? 0.2 + (seq % 50) / 1000 : 0.6 + ((seq * 7919) % 400) / 1000;
    const image = { width: 28, height: 28, channels: 1, encoding: 0 as const, data: data.image(seq) };
    recorder.predicted(seq, label, confidence, image, t0 + seq * 4, t0 + seq * 4 + 3 + (seq % 17));
    predicted.set(seq, label);
  }
  return { recorder, predicted };
}

function outcomeOf(recorder: RecordedSession, sessionId: string, sent = FRAMES): SessionOutcome {
  const startedAt = Date.now() - 5000;
  return {
    sessionId,
    mode: 'classify',
    source: {
      name: 'fashion-mnist-test',
      width: 28,
      height: 28,
      channels: 1,
      requestedCount: FRAMES,
      fps: 0,
    },
    model: { file: 'fashion-mnist-cnn.onnx', sha256: 'c0ffee'.padEnd(64, '0') },
    ...recorder.outcome(sent),
    timings: { startedAt, endedAt: startedAt + 4100, modelLoadMs: 35.5 },
  };
}

/** What the server computes: accuracy over predicted frames, per-class precision/recall, confusion. */
function scoreLikeServer(doc: ResultsDocument): Record<string, unknown> {
  const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  let correct = 0;
  doc.predictions.seq.forEach((seq, i) => {
    const truth = data.labels[seq] as number;
    const label = doc.predictions.label[i] as number;
    (confusion[truth] as number[])[label] = ((confusion[truth] as number[])[label] as number) + 1;
    if (truth === label) correct++;
  });
  const perClass = confusion.map((row, label) => {
    const support = row.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((sum, r) => sum + (r[label] as number), 0);
    return {
      label,
      precision: predictedAs ? (row[label] as number) / predictedAs : null,
      recall: support ? (row[label] as number) / support : null,
      support,
    };
  });
  const predicted = doc.predictions.seq.length;
  return {
    type: 'scored',
    sessionId: doc.sessionId,
    accuracy: correct / predicted,
    sent: FRAMES,
    received: doc.counts.received,
    reconciled: true,
    correct,
    predicted,
    coverage: predicted / FRAMES,
    perClass,
    confusion,
    sampleLabels: Object.fromEntries(doc.samples.map((s) => [String(s.seq), data.labels[s.seq] as number])),
    serverReconciliation: { sent: FRAMES },
  };
}

async function rawRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data: pixels, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { data: pixels, width: info.width, height: info.height };
}

/** Variance of grey levels in rows [top, bottom): a blank band has none, text has plenty. */
function bandVariance(image: { data: Buffer; width: number }, top: number, bottom: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      const grey =
        ((image.data[i] as number) + (image.data[i + 1] as number) + (image.data[i + 2] as number)) / 3;
      sum += grey;
      sumSq += grey * grey;
      n++;
    }
  }
  return sumSq / n - (sum / n) ** 2;
}

function countColour(
  image: { data: Buffer; width: number },
  top: number,
  bottom: number,
  colour: 'green' | 'red',
): number {
  let count = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      const [r, g, b] = [image.data[i] as number, image.data[i + 1] as number, image.data[i + 2] as number];
      if (colour === 'green' && g > 100 && r < 80 && b < 100 && g - r > 60) count++;
      if (colour === 'red' && r > 150 && g < 80 && b < 80) count++;
    }
  }
  return count;
}

describe('writeResultsFolder on real Fashion-MNIST frames', () => {
  let folder: string;
  let document: ResultsDocument;

  beforeAll(async () => {
    const { recorder } = recordSession();
    ({ folder, document } = await writeResultsFolder(outDir, outcomeOf(recorder, 'fm-session/1')));
  });

  it('writes every file into <out>/<sessionId>/ with a safe folder name', async () => {
    expect(folder).toBe(path.join(outDir, 'fm-session_1'));
    expectResultsFolderFiles(folder);
    const samples = (await readdir(path.join(folder, 'samples'))).filter((f) => f.endsWith('.png'));
    expect(samples).toHaveLength(10);
    expect(existsSync(path.join(folder, 'score.json'))).toBe(false);
  });

  it('writes a results.json that validates and matches the returned document', async () => {
    const onDisk = JSON.parse(await readFile(path.join(folder, 'results.json'), 'utf8')) as unknown;
    const check = validateResultsDocument(onDisk);
    expect(check.ok).toBe(true);
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(document)));
    expect(document.sessionId).toBe('fm-session/1');
    expect(document.framesiftVersion).toBe('0.1.0');
    expect(document.counts).toEqual({
      sent: 1000,
      received: 995,
      processed: 993,
      dropped: { 'ring-full': 1 },
      invalid: { 'bad-payload-length': 1 },
      missing: 5,
    });
    expect(document.reconciliation.reconciled).toBe(true);
    expect(document.reconciliation.missingRanges).toEqual([[40, 44]]);
    expect(document.predictions.seq).toHaveLength(993);
    expect(document.predictions.seq).not.toContain(300);
    expect(document.summary.perClass.map((c) => c.name)).toEqual(FASHION_MNIST_CLASSES);
    expect(document.summary.perClass.reduce((sum, c) => sum + c.count, 0)).toBe(993);
    expect(document.summary.latencyMs).toMatchObject({ count: 993, min: 3, max: 19 });
    expect(document.timings).toMatchObject({ durationMs: 4100, modelLoadMs: 35.5 });
    const metrics = JSON.parse(await readFile(path.join(folder, 'metrics.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(metrics).toMatchObject({ sessionId: 'fm-session/1', reconciled: true, predicted: 993 });
  });

  it('renders legible sample cards: nearest-neighbour upscale ≥ 112×112 and a text band that is not blank', async () => {
    expect(document.samples).toHaveLength(10);
    expect(new Set(document.samples.map((s) => s.label)).size).toBe(10);
    for (const sample of document.samples) {
      const file = path.join(folder, sample.file as string);
      const card = await rawRgb(file);
      expect(card.width).toBeGreaterThanOrEqual(112);
      expect(card.height).toBe(SAMPLE_MIN_SIDE + BAND_HEIGHT);
      expect(bandVariance(card, SAMPLE_MIN_SIDE, SAMPLE_MIN_SIDE + BAND_HEIGHT)).toBeGreaterThan(500);
      // The base64 PNG in the document is the same card.
      expect(Buffer.from(sample.png, 'base64').equals(await readFile(file))).toBe(true);
      // Each source pixel became a crisp 6×6 block of the same grey.
      const original = data.image(sample.seq);
      const factor = SAMPLE_MIN_SIDE / 28;
      for (const [sx, sy] of [
        [3, 5],
        [14, 14],
        [27, 27],
      ] as const) {
        for (const [dx, dy] of [
          [0, 0],
          [factor - 1, factor - 1],
        ]) {
          const i = ((sy * factor + (dy as number)) * card.width + sx * factor + (dx as number)) * 3;
          expect(card.data[i]).toBe(original[sy * 28 + sx]);
        }
      }
      // No truth yet: nothing green or red in the label band.
      expect(countColour(card, SAMPLE_MIN_SIDE + 42, SAMPLE_MIN_SIDE + BAND_HEIGHT, 'green')).toBe(0);
      expect(countColour(card, SAMPLE_MIN_SIDE + 42, SAMPLE_MIN_SIDE + BAND_HEIGHT, 'red')).toBe(0);
    }
    const sheet = await sharp(path.join(folder, 'samples.png')).metadata();
    expect(sheet.width).toBeGreaterThanOrEqual(5 * 168);
    expect(sheet.height).toBeGreaterThanOrEqual(2 * (SAMPLE_MIN_SIDE + BAND_HEIGHT));
  });

  it('draws the charts as real images', async () => {
    for (const chart of ['per-class', 'latency']) {
      const image = await rawRgb(path.join(folder, 'charts', `${chart}.png`));
      expect(image.width).toBe(720);
      expect(bandVariance(image, 0, image.height)).toBeGreaterThan(500);
    }
  });

  it('writeScore saves the reply and redraws the samples with the true label in green or red', async () => {
    const scored = scoreLikeServer(document);
    const score = await writeScore(folder, scored);
    expect(score.accuracy).toBeCloseTo(scored.accuracy as number, 10);
    expect(JSON.parse(await readFile(path.join(folder, 'score.json'), 'utf8'))).toEqual(scored);

    let right = 0;
    let wrong = 0;
    for (const sample of document.samples) {
      const card = await rawRgb(path.join(folder, sample.file as string));
      const truth = data.labels[sample.seq];
      const green = countColour(card, SAMPLE_MIN_SIDE + 42, SAMPLE_MIN_SIDE + BAND_HEIGHT, 'green');
      const red = countColour(card, SAMPLE_MIN_SIDE + 42, SAMPLE_MIN_SIDE + BAND_HEIGHT, 'red');
      if (truth === sample.label) {
        right++;
        expect(green, `seq ${sample.seq} green`).toBeGreaterThan(50);
        expect(red).toBe(0);
      } else {
        wrong++;
        expect(red, `seq ${sample.seq} red`).toBeGreaterThan(50);
        expect(green).toBe(0);
      }
    }
    // The most confident samples are right, the least confident wrong (by construction).
    expect(right).toBeGreaterThan(0);
    expect(wrong).toBeGreaterThan(0);

    const sheet = await rawRgb(path.join(folder, 'samples.png'));
    expect(countColour(sheet, 0, sheet.height, 'green')).toBeGreaterThan(100);
    expect(countColour(sheet, 0, sheet.height, 'red')).toBeGreaterThan(100);

    const summary = await readFile(path.join(folder, 'summary.md'), 'utf8');
    expect(summary).toContain(`accuracy ${((scored.accuracy as number) * 100).toFixed(2)}%`);
    expect(summary).toContain('Confusion matrix');
    expect(summary).toContain('| **Ankle boot** |');
    expect(summary).toContain('![samples](samples.png)');
    const metrics = JSON.parse(await readFile(path.join(folder, 'metrics.json'), 'utf8')) as {
      score: { accuracy: number };
    };
    expect(metrics.score.accuracy).toBe(scored.accuracy);

    const text = formatTerminalSummary({ document, folder, score: readScore(scored) });
    expect(text).toContain(
      'sent 1000 · received 995 · processed 993 · dropped 1 (ring-full 1) · invalid 1 (bad-payload-length 1) · missing 5',
    );
    expect(text).toContain('reconcile OK');
    expect(text).toContain('missing   seqs 40–44');
    expect(text).toContain(`accuracy ${((scored.accuracy as number) * 100).toFixed(2)}%`);
    expect(text).toContain(folder);
    expect(text.split('\n').length).toBeLessThan(20);
  });

  it('writeScore refuses a reply for another session', async () => {
    await expect(writeScore(folder, { ...scoreLikeServer(document), sessionId: 'other' })).rejects.toThrow(
      'score for session "other" does not belong to the results',
    );
  });

  it('writeSubmissionError saves the refusal next to the results', async () => {
    const message = await writeSubmissionError(folder, {
      type: 'error',
      code: 'invalid-results',
      message: '/counts/sent is required',
    });
    expect(message).toBe('invalid-results: /counts/sent is required');
    const saved = JSON.parse(await readFile(path.join(folder, 'submission-error.json'), 'utf8')) as {
      error: { code: string };
    };
    expect(saved.error.code).toBe('invalid-results');
    expect(await readFile(path.join(folder, 'summary.md'), 'utf8')).toContain(
      'Submission failed: invalid-results: /counts/sent is required',
    );
  });
});

describe('writeResultsFolder with encoded frames and a dedupe summary', () => {
  it('decodes PNG and JPEG frames for the samples and records the dedupe section', async () => {
    const recorder = new RecordedSession();
    for (let seq = 0; seq < 30; seq++) {
      const raw = sharp(Buffer.from(data.image(seq)), { raw: { width: 28, height: 28, channels: 1 } });
      const encoding = seq % 2 === 0 ? 2 : 1;
      const bytes = encoding === 2 ? await raw.png().toBuffer() : await raw.jpeg({ quality: 90 }).toBuffer();
      recorder.received(seq);
      recorder.predicted(seq, data.labels[seq] as number, 0.5 + seq / 100, {
        width: 28,
        height: 28,
        channels: 1,
        encoding,
        data: new Uint8Array(bytes),
      });
    }
    // A corrupt JPEG among the candidates is left out of the samples, not fatal.
    recorder.received(30);
    recorder.predicted(30, 0, 0.9999, {
      width: 28,
      height: 28,
      channels: 1,
      encoding: 1,
      data: new Uint8Array([0xff, 0xd8, 1, 2, 3]),
    });
    const outcome = outcomeOf(recorder, 'encoded', 31);
    const { folder, document } = await writeResultsFolder(outDir, {
      ...outcome,
      mode: 'both',
      dedupe: {
        method: 'phash',
        threshold: 6,
        metric: 'hamming',
        uniques: 25,
        duplicates: 6,
        savedFolders: [],
      },
    });
    expect(validateResultsDocument(document).ok).toBe(true);
    expect(document.dedupe).toMatchObject({ uniques: 25, duplicates: 6 });
    expect(document.samples.map((s) => s.seq)).not.toContain(30);
    expect(document.samples).toHaveLength(10);
    for (const sample of document.samples) {
      const card = await rawRgb(path.join(folder, sample.file as string));
      expect(card.width).toBeGreaterThanOrEqual(112);
      expect(bandVariance(card, 0, SAMPLE_MIN_SIDE)).toBeGreaterThan(100);
    }
    const summary = await readFile(path.join(folder, 'summary.md'), 'utf8');
    expect(summary).toContain('## Unique frames');
    // The threshold is stated in the method's own distance, not the cnn --metric.
    expect(summary).toContain('Hamming distance');
    expect(formatTerminalSummary({ document, folder })).toContain('(phash, Hamming distance ≤ 6)');
  });
});

// The project's own classifier (models/fashion-mnist-cnn.onnx, committed).

describe('writeResultsFolder with real predictions of the project model', () => {
  it('classifies real frames, writes a valid folder and scores above 80%', async () => {
    const { loadModel, runModel } = await import('../../../src/analysis/models.js');
    const model = await loadModel('fashion-mnist-cnn', { modelsDir: path.join(PROJECT_ROOT, 'models') });
    const recorder = new RecordedSession();
    const batch = 100;
    for (let start = 0; start < FRAMES; start += batch) {
      const input = new Float32Array(batch * 28 * 28);
      for (let i = 0; i < batch; i++) {
        const pixels = data.image(start + i);
        for (let p = 0; p < pixels.length; p++) input[i * 784 + p] = (pixels[p] as number) / 255;
      }
      const sentAt = Date.now();
      const { logits } = await runModel(model, input, batch);
      if (!logits) throw new Error('fashion-mnist-cnn has no logits output');
      const classes = logits.length / batch;
      for (let i = 0; i < batch; i++) {
        // Softmax confidence of the arg-max class.
        const row = logits.subarray(i * classes, (i + 1) * classes);
        const max = Math.max(...row);
        const exps = Array.from(row, (v) => Math.exp(v - max));
        const total = exps.reduce((a, b) => a + b, 0);
        const label = row.indexOf(max);
        const seq = start + i;
        recorder.received(seq);
        recorder.predicted(
          seq,
          label,
          (exps[label] as number) / total,
          { width: 28, height: 28, channels: 1, encoding: 0, data: data.image(seq) },
          sentAt,
        );
      }
    }
    const { folder, document } = await writeResultsFolder(outDir, {
      ...outcomeOf(recorder, 'project-model'),
      model: { file: 'fashion-mnist-cnn.onnx', sha256: model.sha256 },
    });
    expect(validateResultsDocument(document).ok).toBe(true);
    expect(document.reconciliation.reconciled).toBe(true);
    const scored = scoreLikeServer(document);
    expect(scored.accuracy as number).toBeGreaterThan(0.8);
    await writeScore(folder, scored);
    expect(await readFile(path.join(folder, 'summary.md'), 'utf8')).toContain('Confusion matrix');
  });
});
