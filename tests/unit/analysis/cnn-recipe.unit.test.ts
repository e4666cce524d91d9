/**
 * The pieces of the default cnn recipe on real fixture photos: the whole-frame view, the quarter turn of
 * portrait images, the layout thumbnail, and the store's layout rule.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  LAYOUT_SIZE,
  DEFAULT_CNN_RECIPE,
  layoutThumbnail,
  quarterTurn,
  recipeView,
  wholeFramePixels,
  type ImageInput,
} from '../../../src/analysis/tasks/images.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { createUniqueStore, type Feature } from '../../../src/dedupe/index.js';
import { CNN_LAYOUT_THRESHOLD } from '../../../src/dedupe/methods.js';
import { cosineDistance } from '../../../src/dedupe/distance.js';

const PHOTOS = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos');
const OFFICE_A = path.join(PHOTOS, 'imagehash/office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg');
const OFFICE_B = path.join(PHOTOS, 'imagehash/office/tumblr_ndyfnr7lk21tubinno1_1280.jpg');
const UKBENCH = path.join(PHOTOS, 'imagededup/mixed_images/ukbench00120.jpg');
const UKBENCH_GRAY = path.join(PHOTOS, 'imagededup/ukbench00120_gray.jpg');

const load = async (p: string): Promise<ImageInput> => ({ encoded: await readFile(p) });
const layoutOf = async (p: string | Buffer) => {
  const encoded = typeof p === 'string' ? await readFile(p) : p;
  const input: ImageInput = { encoded };
  const meta = await sharp(encoded).metadata();
  const view = await recipeView(input, DEFAULT_CNN_RECIPE, { width: meta.width!, height: meta.height! });
  return layoutThumbnail(view);
};

describe('the whole-frame view', () => {
  it('is the whole image squeezed to 224×224 (no crop): its left border column is the photo’s', async () => {
    const pixels = await wholeFramePixels(await load(OFFICE_A));
    expect(pixels.length).toBe(224 * 224 * 3);
    const reference = await sharp(OFFICE_A)
      .resize(224, 224, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    let diff = 0;
    for (let i = 0; i < pixels.length; i++) diff += Math.abs(pixels[i]! - reference[i]!);
    expect(diff / pixels.length).toBeLessThan(2);
  });

  it('a quarter turn four times is the identity; once it moves the top-left pixel to the top-right', () => {
    const side = 4;
    const img = Uint8Array.from({ length: side * side * 3 }, (_, i) => i);
    let turned: Uint8Array = img;
    for (let k = 0; k < 4; k++) turned = quarterTurn(turned, side);
    expect(turned).toEqual(img);
    const once = quarterTurn(img, side);
    expect(Array.from(once.subarray(3 * (side - 1), 3 * side))).toEqual([0, 1, 2]);
  });

  it('a portrait copy turned by 90° is embedded landscape, a half turn from its original', async () => {
    const portrait = await sharp(OFFICE_A).rotate(90).jpeg({ quality: 95 }).toBuffer();
    const a = await layoutOf(OFFICE_A);
    const b = await layoutOf(portrait);
    // the layout thumbnail is symmetric under both flips, so a half turn leaves it unchanged
    expect(cosineDistance(a, b)).toBeLessThan(0.02);
  });
});

describe('the layout thumbnail', () => {
  it('is unit length with zero mean', async () => {
    const t = await layoutOf(OFFICE_A);
    expect(t.length).toBe(LAYOUT_SIZE * LAYOUT_SIZE);
    expect(t.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    expect(t.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 4);
  });

  it('a grayscale copy and its colour original are within the layout threshold; two office photos are not', async () => {
    expect(cosineDistance(await layoutOf(UKBENCH), await layoutOf(UKBENCH_GRAY))).toBeLessThanOrEqual(
      CNN_LAYOUT_THRESHOLD,
    );
    expect(cosineDistance(await layoutOf(OFFICE_A), await layoutOf(OFFICE_B))).toBeGreaterThan(
      CNN_LAYOUT_THRESHOLD,
    );
  });

  it('is unchanged by a left/right flip', async () => {
    const flipped = await sharp(UKBENCH).flop().jpeg({ quality: 95 }).toBuffer();
    expect(cosineDistance(await layoutOf(UKBENCH), await layoutOf(flipped))).toBeLessThan(0.02);
  });
});

describe('the store’s layout rule', () => {
  const feature = (vector: number[], layout: number[]): Feature => ({
    kind: 'embedding',
    vector: Float32Array.from(vector),
    layout: Float32Array.from(layout),
  });

  it('a frame far in embedding but close in layout is a duplicate, reported on the threshold’s scale', () => {
    const store = createUniqueStore({ method: 'cnn', metric: 'cosine', threshold: 0.4, approximateAbove: 0 });
    expect(store.decide(feature([1, 0], [1, 0, 0])).duplicate).toBe(false);
    expect(store.decide(feature([0, 1], [0, 0, 1])).duplicate).toBe(false);
    // embedding distance 1.6 and 1.8; layout distance 1 − cos ≈ 0.05 from the first
    const layout = [Math.cos(0.3155), Math.sin(0.3155), 0];
    const d = store.decide(feature([-0.6, -0.8], layout));
    expect(d.duplicate).toBe(true);
    if (!d.duplicate) return;
    expect(d.unique).toBe(0);
    const layoutDistance = 1 - Math.cos(0.3155);
    expect(d.distance).toBeCloseTo((layoutDistance / CNN_LAYOUT_THRESHOLD) * 0.4, 4);
    expect(d.distance).toBeLessThanOrEqual(0.4);
    // beyond the layout threshold and the embedding threshold: a new unique, numbered in both indexes
    expect(store.decide(feature([-1, 0], [0, 1, 0]))).toMatchObject({ duplicate: false, unique: 2 });
    expect(store.decide(feature([-1, 0.01], [0, 1, 0.01]))).toMatchObject({ duplicate: true, unique: 2 });
  });

  it('embeddings without a layout (the classifier’s) use the embedding alone', () => {
    const store = createUniqueStore({ method: 'cnn', metric: 'cosine', threshold: 0.1, approximateAbove: 0 });
    store.decide({ kind: 'embedding', vector: Float32Array.from([1, 0]) });
    expect(store.decide({ kind: 'embedding', vector: Float32Array.from([0, 1]) }).duplicate).toBe(false);
    expect(store.size).toBe(2);
  });
});
