import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordedSession } from '../../helpers/recorded-session.js';
import { validateResultsDocument } from '../../../src/common/results-document.js';
import { writeResultsFolder, writeScore } from '../../../src/results/index.js';
import { expectResultsFolderFiles } from './folder-files.js';
import { CALTECH, IMAGEHASH, POTATOES, optionalModelsDir } from '../../test-data.js';

const CAMERA = POTATOES;

let outDir: string;
beforeAll(async () => {
  outDir = await mkdtemp(path.join(os.tmpdir(), 'framesift-photos-'));
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

/** ImageNet class names (long, with commas): the card must cut them, not overflow. */
async function imagenetNames(): Promise<string[]> {
  // The real names when the optional MobileNetV2 labels are in MODELS_DIR, names as long otherwise.
  const { dir } = optionalModelsDir('imagenet-classes.txt');
  const file = dir && path.join(dir, 'imagenet-classes.txt');
  if (file && existsSync(file))
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return Array.from(
    { length: 1000 },
    (_, i) => `a rather long ImageNet-style class name number ${i}, with synonyms`,
  );
}

/**
 * `count` real JPEG photos from the fixtures (caltech-resize, then imagehash), every fourth one enlarged
 * to a 1600-pixel long side as a camera or phone would deliver it.
 */
async function largePhotos(count: number): Promise<Buffer[]> {
  const files: string[] = [];
  for (const dir of [CALTECH, path.join(IMAGEHASH, 'forest')]) {
    for (const f of (await readdir(dir)).filter((name) => name.endsWith('.jpg')).sort()) {
      files.push(path.join(dir, f));
    }
  }
  return Promise.all(
    files.slice(0, count).map(async (file, i) => {
      const bytes = await readFile(file);
      if (i % 4 !== 0) return bytes;
      return sharp(bytes)
        .resize({ width: 1600, height: 1600, fit: 'inside' })
        .jpeg({ quality: 90 })
        .toBuffer();
    }),
  );
}

const startedAt = Date.now();
const baseOutcome = {
  model: null,
  timings: { startedAt, endedAt: startedAt + 1000 },
};

describe('results samples from real photos and camera frames', () => {
  it('shrinks large JPEG photos to fit, keeps text legible with long class names, and colours after scoring', async () => {
    const files = await largePhotos(60);
    const names = await imagenetNames();
    const recorder = new RecordedSession();
    for (const [seq, bytes] of files.entries()) {
      const meta = await sharp(bytes).metadata();
      recorder.received(seq);
      // 12 classes: the top 10 by count give one sample each.
      recorder.predicted(seq, 100 + (seq % 12), 0.3 + (seq % 7) / 10, {
        width: meta.width ?? 0,
        height: meta.height ?? 0,
        channels: 3,
        encoding: 1,
        data: new Uint8Array(bytes),
      });
    }
    const { folder, document } = await writeResultsFolder(outDir, {
      ...baseOutcome,
      sessionId: 'photos',
      mode: 'classify',
      source: { name: 'photos' },
      classNames: names,
      ...recorder.outcome(files.length),
    });
    expect(validateResultsDocument(document).ok).toBe(true);
    expect(document.samples).toHaveLength(10);
    expect(document.summary.perClass.find((c) => c.label === 100)?.name).toBe(names[100]);
    for (const sample of document.samples) {
      const meta = await sharp(path.join(folder, sample.file as string)).metadata();
      expect(meta.width).toBeGreaterThanOrEqual(168);
      expect(meta.width).toBeLessThanOrEqual(4 * 320);
      const plain = await sharp(path.join(folder, 'samples', 'plain', `seq-${sample.seq}.png`)).metadata();
      // Long side about 320, short side at least 112 (one of these photos is a wide crop).
      expect(Math.min(plain.width ?? 0, plain.height ?? 0)).toBeGreaterThanOrEqual(112);
      expect(Math.max(plain.width ?? 0, plain.height ?? 0)).toBeLessThanOrEqual(4 * 320);
      expect(meta.height).toBe((plain.height ?? 0) + 64);
    }
    // Every card travels in the document: photos must stay small.
    expect(Buffer.byteLength(JSON.stringify(document))).toBeLessThan(2 * 1024 * 1024);

    const sampleLabels = Object.fromEntries(
      document.samples.map((s, i) => [String(s.seq), i < 5 ? s.label : 0]),
    );
    await writeScore(folder, {
      type: 'scored',
      sessionId: 'photos',
      accuracy: 0.5,
      sent: 60,
      received: 60,
      reconciled: true,
      sampleLabels,
    });
    const summary = await readFile(path.join(folder, 'summary.md'), 'utf8');
    expect(summary).toContain('accuracy 50.00%');
    expect(summary).not.toContain('Confusion matrix');
  });

  it('keeps 299×299 camera PNG frames at their size (no upscale needed)', async () => {
    const files = (await readdir(CAMERA))
      .filter((f) => f.endsWith('.png'))
      .sort()
      .slice(0, 12);
    const recorder = new RecordedSession();
    for (const [seq, file] of files.entries()) {
      const bytes = await readFile(path.join(CAMERA, file));
      recorder.received(seq);
      recorder.predicted(
        seq,
        seq % 2,
        0.5 + seq / 100,
        { width: 299, height: 299, channels: 3, encoding: 2, data: new Uint8Array(bytes) },
        Date.now() - 20,
        Date.now(),
      );
    }
    const { folder, document } = await writeResultsFolder(outDir, {
      ...baseOutcome,
      sessionId: 'camera',
      mode: 'classify',
      source: { name: 'camera' },
      ...recorder.outcome(files.length),
    });
    expect(document.samples).toHaveLength(10);
    const meta = await sharp(path.join(folder, document.samples[0]?.file as string)).metadata();
    expect([meta.width, meta.height]).toEqual([299, 299 + 64]);
    expect(document.summary.perClass.map((c) => c.name)).toEqual(['class 0', 'class 1']);
  });

  it('writes a complete folder for a dedupe-only session with no predictions', async () => {
    const recorder = new RecordedSession();
    for (let seq = 0; seq < 20; seq++) {
      recorder.received(seq);
      recorder.processed(seq, Date.now() - 10, Date.now());
    }
    const { folder, document } = await writeResultsFolder(outDir, {
      ...baseOutcome,
      sessionId: 'dedupe-only',
      mode: 'dedupe',
      source: { name: 'camera' },
      model: {
        file: 'mobilenet_v3_small_075_224-embed.onnx',
        sha256: 'f337fd74a2cf80f53a53d68d32b572991cffd40200c7010d3111ed43ab6ce10d',
      },
      ...recorder.outcome(null),
      dedupe: {
        method: 'cnn',
        threshold: 0.12,
        metric: 'cosine',
        uniques: 4,
        duplicates: 16,
        savedFolders: ['orders/A-1'],
      },
    });
    expect(validateResultsDocument(document).ok).toBe(true);
    expect(document.predictions).toEqual({ seq: [], label: [], confidence: [] });
    expect(document.samples).toEqual([]);
    expect(document.summary.latencyMs?.count).toBe(20);
    // The server never said how many it sent: not reconciled, and the report says why.
    expect(document.reconciliation.reconciled).toBe(false);
    expectResultsFolderFiles(folder);
    expect(await readFile(path.join(folder, 'summary.md'), 'utf8')).toContain(
      'never reported how many frames it sent',
    );
  });
});
