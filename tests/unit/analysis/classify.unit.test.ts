/**
 * The classify and warmup handlers called in-process (as the worker calls them), with the project's
 * classifier: the test hooks, the errors a handler reports, the embedding output.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { handle as classify } from '../../../src/analysis/tasks/classify.js';
import { handle as warmup } from '../../../src/analysis/tasks/warmup.js';
import type { ModelRef, WorkerContext, WorkerModel, WorkerTestHooks } from '../../../src/analysis/tasks.js';
import { modelKey, openWorkerModel } from '../../../src/analysis/worker-models.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';

const MODEL = 'fashion-mnist-cnn';

function context(ring: FrameRing | undefined, testHooks: WorkerTestHooks = {}): WorkerContext {
  const models = new Map<string, Promise<WorkerModel>>();
  let scratch = new Float32Array(0);
  return {
    threadId: 0,
    ring,
    modelsDir: process.env.MODELS_DIR ?? 'models',
    intraOpThreads: 1,
    testHooks,
    classifyBatches: 0,
    model(ref: ModelRef) {
      const key = modelKey(ref);
      if (!models.has(key))
        models.set(key, openWorkerModel(ref, { modelsDir: this.modelsDir, intraOpThreads: 1 }));
      return models.get(key)!;
    },
    scratch(length: number) {
      if (scratch.length < length) scratch = new Float32Array(length);
      return scratch;
    },
  };
}

describe('classify handler', () => {
  let ring: FrameRing;
  let slots: Int32Array;
  let labels: Uint8Array;
  beforeAll(async () => {
    const data = await loadFashionMnist('test');
    labels = data.labels;
    ring = FrameRing.create({ slots: 16, slotBytes: 784 });
    for (let i = 0; i < 16; i++) {
      ring.write(
        { seq: i, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 },
        data.images.subarray(i * 784, (i + 1) * 784),
      );
    }
    slots = new Int32Array(16);
    ring.takePending(16, slots);
  });

  it('labels frames (most of them right) and returns the embedding when asked', async () => {
    const result = await classify({ kind: 'classify', model: MODEL, slots, embedding: true }, context(ring));
    const right = Array.from(result.labels).filter((label, i) => label === labels[i]).length;
    expect(right).toBeGreaterThanOrEqual(13);
    expect(result.embeddingDim).toBe(128);
    expect(result.embeddings).toHaveLength(16 * 128);
    expect(result.inferMs).toBeGreaterThan(0);
    const without = await classify({ kind: 'classify', model: MODEL, slots }, context(ring));
    expect(without.embeddings).toBeNull();
    expect(Array.from(without.labels)).toEqual(Array.from(result.labels));
  });

  it('test hooks: a slow batch waits, the n-th batch throws', async () => {
    const slow = context(ring, { delayMs: 60 });
    const t0 = performance.now();
    await classify({ kind: 'classify', model: MODEL, slots }, slow);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    const failing = context(ring, { failBatch: 2 });
    await classify({ kind: 'classify', model: MODEL, slots }, failing);
    await expect(classify({ kind: 'classify', model: MODEL, slots }, failing)).rejects.toThrow(
      /fails classify batch 2/,
    );
    await classify({ kind: 'classify', model: MODEL, slots }, failing);
  });

  it('refuses without a ring, and with a model that has no logits output', async () => {
    await expect(classify({ kind: 'classify', model: MODEL, slots }, context(undefined))).rejects.toThrow(
      /without a frame ring/,
    );
    const noLogits: ModelRef = {
      path: 'models/fashion-mnist-cnn.onnx',
      input: { channels: 1, height: 28, width: 28 },
      outputs: { embedding: 'embedding' },
    };
    await expect(classify({ kind: 'classify', model: noLogits, slots }, context(ring))).rejects.toThrow(
      /no logits output/,
    );
  });

  it('warmup loads the model and reports its verified file', async () => {
    const warm = await warmup({ kind: 'warmup', model: MODEL }, context(ring));
    expect(warm.modelPath).toMatch(/fashion-mnist-cnn\.onnx$/);
    expect(warm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(warm.outputs).toEqual({ logits: 'logits', embedding: 'embedding' });
  });
});
