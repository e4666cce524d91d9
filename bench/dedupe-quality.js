// Quality of the dedupe methods on the shared near-duplicate sets: features computed in-process (same
// functions the workers run), then the incremental unique store replayed in name order at each threshold
// of a sweep, scored pairwise against the ground truth.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadModel } from '../dist/analysis/models.js';
import * as images from '../dist/analysis/tasks/images.js';
import { createUniqueStore, hexToHash, scorePartition } from '../dist/dedupe/index.js';

/** Features of every readable file of `set` for `method`: Map<file, Feature>. */
export async function setFeatures(set, method, embedder) {
  const features = new Map();
  const failed = [];
  const pending = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const n = pending.length;
    const input = new Float32Array(n * 3 * 224 * 224);
    pending.forEach((p, i) => images.rgbToChw(p.pixels, input, i * 3 * 224 * 224, 224 * 224));
    const out = await embedder.session.run({ input: new ort.Tensor('float32', input, [n, 3, 224, 224]) });
    const emb = out.embedding;
    const dim = emb.dims[1];
    pending.forEach((p, i) =>
      features.set(p.file, {
        kind: 'embedding',
        vector: new Float32Array(emb.data.slice(i * dim, (i + 1) * dim)),
      }),
    );
    pending.length = 0;
  };
  for (const file of set.files) {
    let input;
    try {
      const bytes = await readFile(path.join(set.dir, file));
      input = images.decodeNetpbm(bytes) ?? { encoded: bytes };
      if (method === 'cnn') {
        pending.push({ file, pixels: await images.photoPixels(input) });
        if (pending.length === 32) await flush();
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

/** Replays the incremental store in name order; returns Map<file, cell id> for scoring. */
export function partition(set, features, method, metric, threshold) {
  const store = createUniqueStore({ method, metric, threshold, approximateAbove: 0 });
  const cellOf = new Map();
  const keptFile = [];
  for (const file of set.files) {
    const feature = features.get(file);
    if (!feature) continue;
    const decision = store.decide(feature);
    if (!decision.duplicate) keptFile[decision.unique] = file;
    if (!set.excluded.has(file)) cellOf.set(file, keptFile[decision.unique]);
  }
  return cellOf;
}

export function scoreAt(set, features, method, metric, threshold) {
  return scorePartition(partition(set, features, method, metric, threshold), set.groupOf);
}

export async function loadEmbedder(modelsDir) {
  return loadModel('mobilenet-v3-small-075', { modelsDir, intraOpThreads: 1 });
}

export const SWEEPS = {
  cnn: Array.from({ length: 40 }, (_, i) => +(0.02 * (i + 1)).toFixed(3)),
  phash: Array.from({ length: 33 }, (_, i) => i),
  mse: [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15],
  change: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
};

export { hexToHash };
