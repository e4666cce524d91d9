/**
 * The worker pool on the whole Fashion-MNIST test set with the project's trained classifier: two workers
 * reading a shared ring give exactly the labels of the model run directly, and the accuracy the training
 * run reported.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnalysisPool, type AnalysisPool, type ClassifyResult } from '../../../src/analysis/index.js';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { testModel } from '../processing/helpers.js';
import { MODELS_DIR } from '../../test-data.js';

const { ref: MODEL, path: MODEL_PATH } = testModel();

describe('analysis pool on the Fashion-MNIST test set', () => {
  let pool: AnalysisPool;
  let ring: FrameRing;
  beforeAll(() => {
    ring = FrameRing.create({ slots: 1024, slotBytes: 784 });
    pool = createAnalysisPool({
      threads: 2,
      intraOpThreads: 1,
      modelsDir: MODELS_DIR,
      ring,
    });
  });
  afterAll(async () => {
    await pool?.destroy();
  });

  it('two workers, batches in flight together: the labels of the model run directly', async () => {
    const data = await loadFashionMnist('test');
    const n = data.count;
    const labels = new Int32Array(n);
    const batch = 250;
    for (let start = 0; start < n; start += 1000) {
      // 4 batches of 250 frames in flight at once over the two workers
      const jobs: Array<Promise<[number, ClassifyResult]>> = [];
      const used: Int32Array[] = [];
      for (let b = start; b < Math.min(n, start + 1000); b += batch) {
        const count = Math.min(batch, n - b);
        for (let i = b; i < b + count; i++) {
          ring.write(
            { seq: i, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 },
            data.images.subarray(i * 784, (i + 1) * 784),
          );
        }
        const slots = new Int32Array(count);
        ring.takePending(count, slots);
        used.push(slots);
        jobs.push(pool.run({ kind: 'classify', model: MODEL, slots }).then((r) => [b, r]));
      }
      for (const [b, r] of await Promise.all(jobs)) labels.set(r.labels, b);
      for (const slots of used) for (const slot of slots) ring.release(slot);
    }

    const session = await ort.InferenceSession.create(MODEL_PATH, { intraOpNumThreads: 1 });
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = data.images[i]! / 255;
    let correct = 0;
    for (let b = 0; b < n; b += 1000) {
      const out = await session.run({
        input: new ort.Tensor('float32', x.subarray(b * 784, (b + 1000) * 784), [1000, 1, 28, 28]),
      });
      const logits = out.logits!.data as Float32Array;
      for (let i = 0; i < 1000; i++) {
        let best = 0;
        for (let c = 1; c < 10; c++) if (logits[i * 10 + c]! > logits[i * 10 + best]!) best = c;
        expect(labels[b + i]).toBe(best);
      }
    }
    for (let i = 0; i < n; i++) if (labels[i] === data.labels[i]) correct++;
    const accuracy = correct / n;
    {
      // The accuracy the model's training run measured (PyTorch), within rounding of the export.
      const report = JSON.parse(
        readFileSync(path.join(PROJECT_ROOT, 'models', 'fashion-mnist-cnn.training.json'), 'utf8'),
      ) as { torchTestAccuracy: number };
      expect(Math.abs(accuracy - report.torchTestAccuracy)).toBeLessThan(0.002);
      expect(accuracy).toBeGreaterThan(0.88);
    }
  });
});
