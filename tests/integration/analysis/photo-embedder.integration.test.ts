/**
 * The default photo embedder (MobileNetV3-Small, shipped in models/) on real photos: a photo and its resized,
 * re-encoded copy embed closer than two different photos.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  loadLabels,
  loadModel,
  preprocessImage,
  runModel,
  type LoadedModel,
} from '../../../src/analysis/models.js';
import { IMAGEHASH, optionalModelsOrSkip } from '../../test-data.js';

const FOREST = path.join(IMAGEHASH, 'forest', 'forest-high.jpg');
const OFFICE = path.join(IMAGEHASH, 'office', 'tumblr_ndyfdoR6Wp1tubinno1_1280.jpg');

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

let v3: LoadedModel;
beforeAll(async () => {
  v3 = await loadModel('mobilenet-v3-small-075', { modelsDir: '' });
});

describe('mobilenet-v3-small-075 embedder', () => {
  it('a photo is closer to its resized JPEG copy than to a different photo', async () => {
    const copy = await sharp(FOREST).resize({ width: 320 }).jpeg({ quality: 60 }).toBuffer();
    const inputs = await Promise.all([FOREST, copy, OFFICE].map((img) => preprocessImage(img, v3.manifest)));
    const size = 3 * 224 * 224;
    const batch = new Float32Array(3 * size);
    inputs.forEach((x, i) => batch.set(x, i * size));
    const { embedding } = await runModel(v3, batch, 3);
    expect(embedding).toHaveLength(3 * 1024);
    const e = [0, 1, 2].map((i) => embedding!.subarray(i * 1024, (i + 1) * 1024));
    const same = cosine(e[0]!, e[1]!);
    const different = cosine(e[0]!, e[2]!);
    expect(same).toBeGreaterThan(0.8);
    expect(different).toBeLessThan(0.3);
  });
});

describe('mobilenet-v2 classifier', () => {
  it('classifies a real forest photo and its resized copy the same, with a 1280-d embedding', async ({
    skip,
  }) => {
    const dir = optionalModelsOrSkip(skip, 'mobilenet_v2_1.0_224-embed.onnx', 'imagenet-classes.txt');
    const v2 = await loadModel('mobilenet-v2', { modelsDir: dir });
    const labels = await loadLabels(v2.manifest, dir);
    const copy = await sharp(FOREST).resize({ width: 300 }).jpeg({ quality: 70 }).toBuffer();
    const size = 3 * 224 * 224;
    const batch = new Float32Array(2 * size);
    batch.set(await preprocessImage(FOREST, v2.manifest), 0);
    batch.set(await preprocessImage(copy, v2.manifest), size);
    const { logits, embedding } = await runModel(v2, batch, 2);
    expect(embedding).toHaveLength(2 * 1280);
    const top = (row: number): number => {
      let best = 0;
      for (let i = 1; i < 1000; i++) if (logits![row * 1000 + i]! > logits![row * 1000 + best]!) best = i;
      return best;
    };
    // ImageNet has no "forest": a woodland path scores as the nearest scenery class.
    expect(labels[top(0)]).toBe('lakeside');
    expect(labels[top(1)]).toBe(labels[top(0)]);
  });
});
