// Quality of the dedupe methods on the shared near-duplicate sets: features computed in-process (same
// functions the workers run), then the incremental unique store replayed in name order at each threshold
// of a sweep, scored pairwise against the ground truth.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadModel } from '../dist/analysis/models.js';
import * as images from '../dist/analysis/tasks/images.js';
import { createUniqueStore, hexToHash, scorePartition } from '../dist/dedupe/index.js';

/**
 * Features of every readable file of `set` for `method`: Map<file, Feature>. cnn features are made by the
 * workers' own functions for `recipe` (view, layout thumbnail), inference in chunks of 16.
 */
export async function setFeatures(set, method, embedder, recipe = images.DEFAULT_CNN_RECIPE) {
  const features = new Map();
  const failed = [];
  const pending = [];
  const plane = 224 * 224;
  const flush = async () => {
    if (pending.length === 0) return;
    const n = pending.length;
    const input = new Float32Array(n * 3 * plane);
    pending.forEach((p, i) => images.rgbToChw(p.pixels, input, i * 3 * plane, plane));
    const out = await embedder.session.run({ input: new ort.Tensor('float32', input, [n, 3, 224, 224]) });
    const emb = out.embedding;
    const dim = emb.dims[1];
    pending.forEach((p, i) => {
      const vector = new Float32Array(emb.data.slice(i * dim, (i + 1) * dim));
      features.set(
        p.file,
        p.layout ? { kind: 'embedding', vector, layout: p.layout } : { kind: 'embedding', vector },
      );
    });
    pending.length = 0;
  };
  for (const file of set.files) {
    let input;
    try {
      const bytes = await readFile(path.join(set.dir, file));
      input = images.decodeNetpbm(bytes) ?? { encoded: bytes };
      if (method === 'cnn') {
        const pixels = await images.recipeView(input, recipe, await images.imageSize(input));
        pending.push({ file, pixels, layout: recipe.layout ? images.layoutThumbnail(pixels) : undefined });
        if (pending.length === 16) await flush();
      } else if (method === 'phash') {
        features.set(file, { kind: 'hash', hash: await images.phashOf(input) });
      } else if (method === 'mse') {
        features.set(file, { kind: 'thumbnail', pixels: await images.mseThumbnailOf(input) });
      } else {
        features.set(file, { kind: 'gray', image: await images.changePrep(input) });
      }
    } catch {
      failed.push(file);
    }
  }
  await flush();
  return { features, failed };
}

/** Per transform of the generated set: the share of copies in the same cell as their original. */
export function transformRecall(set, cellOf) {
  const per = {};
  for (const [file, transform] of set.transformOf) {
    if (transform === 'original' || !cellOf.has(file)) continue;
    const original = `${file.split('/')[0]}/original.jpg`;
    per[transform] ??= { found: 0, copies: 0 };
    per[transform].copies++;
    if (cellOf.get(file) === cellOf.get(original)) per[transform].found++;
  }
  return Object.fromEntries(Object.entries(per).map(([t, { found, copies }]) => [t, found / copies]));
}

/** Replays the incremental store in name order; returns Map<file, cell id> for scoring. */
/**
 * The store's decisions in name order: Map<file, kept file of its cell>. `checkFor(file, keptFile)`, when
 * given, supplies the keypoint check of each frame (keptFile[n] is the file of unique n).
 */
export function partition(set, features, method, metric, threshold, checkFor) {
  const store = createUniqueStore({ method, metric, threshold, approximateAbove: 0 });
  const cellOf = new Map();
  const keptFile = [];
  for (const file of set.files) {
    const feature = features.get(file);
    if (!feature) continue;
    const decision = store.decide(feature, checkFor?.(file, keptFile));
    if (!decision.duplicate) keptFile[decision.unique] = file;
    if (!set.excluded.has(file)) cellOf.set(file, keptFile[decision.unique]);
  }
  return cellOf;
}

export function scoreAt(set, features, method, metric, threshold, checkFor) {
  return scorePartition(partition(set, features, method, metric, threshold, checkFor), set.groupOf);
}

export async function loadEmbedder(modelsDir) {
  return loadModel('mobilenet-v3-small-075', { modelsDir, intraOpThreads: 1 });
}

export const SWEEPS = {
  cnn: Array.from({ length: 18 }, (_, i) => +(0.1 + 0.04 * i).toFixed(3)),
  phash: Array.from({ length: 33 }, (_, i) => i),
  mse: [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15],
  change: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
};

export { hexToHash };
