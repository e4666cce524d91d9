/**
 * The project's own Fashion-MNIST classifier, run through onnxruntime-node exactly as the workers run it,
 * on the full 10,000-image test set.
 */
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, runModel, type LoadedModel } from '../../../src/analysis/models.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import type { LabelledImages } from '../../../src/stream/idx.js';
import { FASHION_MNIST_DIR } from '../../test-data.js';

let model: LoadedModel;
let test: LabelledImages;

beforeAll(async () => {
  model = await loadModel('fashion-mnist-cnn', { intraOpThreads: 2 });
  test = await loadFashionMnist('test', FASHION_MNIST_DIR);
});

function batchInput(start: number, count: number): Float32Array {
  const pixels = 28 * 28;
  const input = new Float32Array(count * pixels);
  for (let i = 0; i < count * pixels; i++) input[i] = test.images[start * pixels + i]! / 255;
  return input;
}

describe('fashion-mnist-cnn through onnxruntime-node', () => {
  it('classifies the full 10,000-image test set with accuracy >= 0.935', async () => {
    expect(test.count).toBe(10_000);
    const batch = 500;
    let correct = 0;
    const perClassCorrect = new Array<number>(10).fill(0);
    for (let start = 0; start < test.count; start += batch) {
      const count = Math.min(batch, test.count - start);
      const { logits } = await runModel(model, batchInput(start, count), count);
      expect(logits).toHaveLength(count * 10);
      for (let i = 0; i < count; i++) {
        let best = 0;
        for (let c = 1; c < 10; c++) if (logits![i * 10 + c]! > logits![i * 10 + best]!) best = c;
        if (best === test.labels[start + i]) {
          correct++;
          perClassCorrect[best]!++;
        }
      }
    }
    const accuracy = correct / test.count;
    expect(accuracy).toBeGreaterThanOrEqual(0.935);
    // No class is given up for the average: each of the 1,000 per class is mostly right (Shirt is hardest).
    for (const c of perClassCorrect) expect(c).toBeGreaterThan(650);
  });

  it('returns logits [N,10] and a 128-d embedding [N,128] for any batch size', async () => {
    for (const n of [1, 7, 64]) {
      const feeds = { input: new ort.Tensor('float32', batchInput(100, n), [n, 1, 28, 28]) };
      const out = await model.session.run(feeds);
      expect(out.logits!.dims).toEqual([n, 10]);
      expect(out.embedding!.dims).toEqual([n, model.manifest.embeddingSize]);
      const embedding = out.embedding!.data as Float32Array;
      expect(embedding.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    }
    expect(model.manifest.embeddingSize).toBe(128);
  });

  it('embeds the same garment closer than different garments', async () => {
    // Image 0 against itself shifted by one pixel, and against the first image of another class.
    const pixels = 28 * 28;
    const first = batchInput(0, 1);
    const shifted = new Float32Array(pixels);
    for (let y = 0; y < 28; y++) for (let x = 1; x < 28; x++) shifted[y * 28 + x] = first[y * 28 + x - 1]!;
    const other = test.labels.findIndex((l) => l !== test.labels[0]);
    const input = new Float32Array(3 * pixels);
    input.set(first, 0);
    input.set(shifted, pixels);
    input.set(batchInput(other, 1), 2 * pixels);
    const { embedding } = await runModel(model, input, 3);
    const d = 128;
    const cosine = (a: number, b: number): number => {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < d; i++) {
        const x = embedding![a * d + i]!;
        const y = embedding![b * d + i]!;
        dot += x * y;
        na += x * x;
        nb += y * y;
      }
      return dot / Math.sqrt(na * nb);
    };
    expect(cosine(0, 1)).toBeGreaterThan(cosine(0, 2));
    expect(cosine(0, 1)).toBeGreaterThan(0.8);
  });
});
