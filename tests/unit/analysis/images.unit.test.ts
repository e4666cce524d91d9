import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  changePrep,
  handle,
  mseThumbnailOf,
  phashOf,
  photoPixels,
  type ImageInput,
} from '../../../src/analysis/tasks/images.js';
import { openWorkerModel } from '../../../src/analysis/worker-models.js';
import type { WorkerContext, WorkerModel } from '../../../src/analysis/tasks.js';
import { defaultThreshold } from '../../../src/dedupe/index.js';
import { CNN_LAYOUT_THRESHOLD } from '../../../src/dedupe/methods.js';
import { DEFAULT_CHANGE_OPTIONS, changeScore } from '../../../src/dedupe/change.js';
import { cosineDistance, hammingDistance, meanSquaredError } from '../../../src/dedupe/distance.js';
import { FIXTURES, IMAGEDEDUP, MODELS_DIR, POTATOES } from '../../test-data.js';

const MODELS = MODELS_DIR;
const file = (p: string) => path.join(FIXTURES, 'photos', p);
const load = async (p: string): Promise<ImageInput> => ({ encoded: await readFile(p) });

// Duplicates: one photo at two JPEG qualities; a Caltech image and its resized/rotated copy.
// Distinct: two different office photos that look alike (hard negatives), two Caltech images.
const DUPLICATE_PAIRS = [
  ['imagehash/forest/forest-high.jpg', 'imagehash/forest/forest-low.jpg'],
  ['imagehash/forest/forest-high.jpg', 'imagehash/forest/forest-copyright.jpg'],
  [
    'caltech-resize/0ad3c3a4-23c4-4efe-a86a-b20a1f53e94e.jpg',
    'caltech-resize/22e6f6b4-e3e4-4853-8560-ad7012ad5ef3.jpg',
  ],
];
const DISTINCT_PAIRS = [
  [
    'imagehash/office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg',
    'imagehash/office/tumblr_ndyfnr7lk21tubinno1_1280.jpg',
  ],
  [
    'caltech-resize/0ad3c3a4-23c4-4efe-a86a-b20a1f53e94e.jpg',
    'caltech-resize/1e8cc2f7-187a-45cb-bd3b-f5bc2b63fc10.jpg',
  ],
];

let context: WorkerContext;
beforeAll(async () => {
  const models = new Map<string, Promise<WorkerModel>>();
  let scratch = new Float32Array(0);
  context = {
    threadId: 0,
    ring: undefined,
    modelsDir: MODELS,
    intraOpThreads: 1,
    testHooks: {},
    classifyBatches: 0,
    model(ref) {
      const key = JSON.stringify(ref);
      if (!models.has(key)) models.set(key, openWorkerModel(ref, { modelsDir: MODELS, intraOpThreads: 1 }));
      return models.get(key)!;
    },
    scratch(length) {
      if (scratch.length < length) scratch = new Float32Array(length);
      return scratch;
    },
  };
});

describe('photo preprocessing', () => {
  it('resizes the short side to 256 and centre-crops 224, in sRGB', async () => {
    const input = await load(file('imagehash/forest/forest-high.jpg'));
    const pixels = await photoPixels(input);
    expect(pixels.length).toBe(224 * 224 * 3);
    // Same as doing it in two explicit steps.
    const meta = await sharp((input as { encoded: Uint8Array }).encoded).metadata();
    const scale = 256 / Math.min(meta.width!, meta.height!);
    const w = Math.round(meta.width! * scale);
    const h = Math.round(meta.height! * scale);
    const resized = await sharp((input as { encoded: Uint8Array }).encoded)
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    const reference = await sharp(resized, { raw: { width: w, height: h, channels: 3 } })
      .extract({ left: Math.floor((w - 224) / 2), top: Math.floor((h - 224) / 2), width: 224, height: 224 })
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < pixels.length; i++) diff += Math.abs(pixels[i]! - reference[i]!);
    expect(diff / pixels.length).toBeLessThan(2);
  });

  it('turns a gray image into three equal channels', async () => {
    const gray = await load(path.join(IMAGEDEDUP, 'ukbench00120_gray.jpg'));
    const pixels = await photoPixels(gray);
    expect(pixels[0]).toBe(pixels[1]);
    expect(pixels[1]).toBe(pixels[2]);
  });

  it('a corrupt file is an error naming what went wrong', async () => {
    const corrupt = await load(path.join(IMAGEDEDUP, 'mixed_images/ukbench09268_corrupt.jpg'));
    await expect(photoPixels(corrupt)).rejects.toThrow();
  });
});

describe('each method on real image pairs at its default threshold', () => {
  const pairDistances = async (method: 'phash' | 'mse', pair: string[]) => {
    const [a, b] = await Promise.all(pair.map((p) => load(file(p))));
    if (method === 'phash') return hammingDistance(await phashOf(a!), await phashOf(b!));
    return meanSquaredError(await mseThumbnailOf(a!), await mseThumbnailOf(b!));
  };

  it.each(['phash', 'mse'] as const)(
    '%s: JPEG-quality duplicates within, different photos beyond',
    async (method) => {
      const t = defaultThreshold(method, 'cosine');
      expect(await pairDistances(method, DUPLICATE_PAIRS[0]!)).toBeLessThanOrEqual(t);
      expect(await pairDistances(method, DUPLICATE_PAIRS[1]!)).toBeLessThanOrEqual(t);
      for (const pair of DISTINCT_PAIRS) expect(await pairDistances(method, pair)).toBeGreaterThan(t);
    },
  );

  it('cnn: duplicates are within the threshold (embedding or layout), distinct photos beyond both', async () => {
    const pairs = [...DUPLICATE_PAIRS, ...DISTINCT_PAIRS];
    const files = pairs.flat().map(file);
    const result = await handle(
      { kind: 'images', method: 'cnn', model: 'mobilenet-v3-small-075', files },
      context,
    );
    expect(result.failed).toEqual([]);
    expect(result.embeddingDim).toBe(1024);
    const row = (i: number) => result.embeddings!.subarray(i * 1024, (i + 1) * 1024);
    const layout = (i: number) => result.layouts!.subarray(i * 256, (i + 1) * 256);
    const t = defaultThreshold('cnn', 'cosine');
    pairs.forEach((_, k) => {
      const d = cosineDistance(row(2 * k), row(2 * k + 1));
      const dl = cosineDistance(layout(2 * k), layout(2 * k + 1));
      if (k < DUPLICATE_PAIRS.length) expect(d <= t || dl <= CNN_LAYOUT_THRESHOLD, `pair ${k}`).toBe(true);
      else expect(d > t && dl > CNN_LAYOUT_THRESHOLD, `pair ${k}`).toBe(true);
    });
  });

  it('change: a re-encoded frame is a duplicate, a frame with a different potato is not', async () => {
    const potatoes = POTATOES;
    const a = await load(path.join(potatoes, '2018-12-11-15-031193.png'));
    const reencoded: ImageInput = {
      encoded: await sharp((a as { encoded: Uint8Array }).encoded)
        .jpeg({ quality: 80 })
        .toBuffer(),
    };
    const other = await load(path.join(potatoes, '2018-12-11-15-031830.png'));
    const t = defaultThreshold('change', 'cosine');
    const ga = await changePrep(a, DEFAULT_CHANGE_OPTIONS);
    expect(ga.width).toBe(Math.floor(320 - 2 * Math.floor(320 * 0.02)));
    expect(changeScore(ga, await changePrep(reencoded))).toBeLessThanOrEqual(t);
    expect(changeScore(ga, await changePrep(other))).toBeGreaterThan(t);
  });

  it('a batch with an unreadable file reports it and still computes the rest', async () => {
    const files = [
      file('imagehash/forest/forest-high.jpg'),
      path.join(IMAGEDEDUP, 'mixed_images/ukbench09268_corrupt.jpg'),
      path.join(FIXTURES, 'does-not-exist.jpg'),
    ];
    const result = await handle({ kind: 'images', method: 'phash', files }, context);
    expect(result.failed.map((f) => f.index)).toEqual([1, 2]);
    expect(result.failed[0]!.message).toContain('ukbench09268_corrupt.jpg');
    expect(result.failed[1]!.message).toMatch(/cannot be read/);
    expect(result.hashes![0]).toMatch(/^[0-9a-f]{16}$/);
  });
});
