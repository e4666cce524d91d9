/**
 * The classify and warmup handlers called in-process (as the worker calls them), with the project's
 * classifier: the test hooks, the errors a handler reports, the embedding output.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, preprocessImage, runModel } from '../../../src/analysis/models.js';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { handle as classify } from '../../../src/analysis/tasks/classify.js';
import { handle as warmup } from '../../../src/analysis/tasks/warmup.js';
import type { ModelRef, WorkerContext, WorkerModel, WorkerTestHooks } from '../../../src/analysis/tasks.js';
import { modelKey, openWorkerModel } from '../../../src/analysis/worker-models.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { IMAGEHASH, MODELS_DIR, optionalModelsOrSkip } from '../../test-data.js';

const MODEL = 'fashion-mnist-cnn';
const PHOTO = path.join(IMAGEHASH, 'forest', 'forest-high.jpg');

function context(ring: FrameRing | undefined, testHooks: WorkerTestHooks = {}): WorkerContext {
  const models = new Map<string, Promise<WorkerModel>>();
  let scratch = new Float32Array(0);
  return {
    threadId: 0,
    ring,
    modelsDir: MODELS_DIR,
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

  it('decodes encoded and off-size frames on the worker by the model recipe; a corrupt one fails alone', async () => {
    const raw = ring.frame(slots[0]!).data;
    const gray = { raw: { width: 28, height: 28, channels: 1 as const } };
    const png = await sharp(raw, gray).png().toBuffer();
    const big = await sharp(raw, gray).resize(84, 84, { kernel: 'nearest' }).raw().toBuffer();
    // What the recipe makes of the 84×84 frame (bilinear to 28×28), given as a ready 28×28 raw frame.
    const down = await sharp(big, { raw: { width: 84, height: 84, channels: 1 } })
      .resize(28, 28, { fit: 'fill', kernel: 'linear' })
      .extractChannel(0) // sharp writes gray input back as sRGB
      .raw()
      .toBuffer();
    const side = FrameRing.create({ slots: 5, slotBytes: 784 });
    side.write({ seq: 0, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 }, raw);
    side.write({ seq: 1, width: 28, height: 28, channels: 1, encoding: 2, sentAt: 0 }, png);
    side.write({ seq: 2, width: 84, height: 84, channels: 1, encoding: 0, sentAt: 0 }, big);
    side.write(
      { seq: 3, width: 28, height: 28, channels: 1, encoding: 1, sentAt: 0 },
      Buffer.from('no jpeg'),
    );
    side.write({ seq: 4, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 }, down);
    const s = new Int32Array(5);
    side.takePending(5, s);
    const result = await classify(
      { kind: 'classify', model: MODEL, slots: s, sidecars: side.sidecarsOf(s) },
      context(side),
    );
    expect(result.failed.map((f) => [f.index, f.reason])).toEqual([[3, 'undecodable']]);
    expect(result.labels[3]).toBe(-1);
    // lossless PNG: the same pixels, the same confidence
    expect(result.labels[1]).toBe(result.labels[0]);
    expect(result.confidences[1]).toBeCloseTo(result.confidences[0]!, 5);
    // the off-size raw frame is resized on the worker exactly as the recipe does
    expect(result.labels[2]).toBe(result.labels[4]);
    expect(result.confidences[2]).toBeCloseTo(result.confidences[4]!, 5);
  });

  it('a photo model on a real photo: the registry recipe, from JPEG bytes or from raw RGB pixels', async ({
    skip,
  }) => {
    // The photo classifier (MobileNetV2, ImageNet logits) is optional: the shipped embedder has no logits.
    const modelsDir = optionalModelsOrSkip(skip, 'mobilenet_v2_1.0_224-embed.onnx');
    const file = PHOTO;
    const jpeg = await readFile(file);
    const { data: rgb, info } = await sharp(jpeg)
      .rotate()
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const photos = FrameRing.create({ slots: 2, slotBytes: 1024 });
    photos.write(
      { seq: 0, width: info.width, height: info.height, channels: 3, encoding: 1, sentAt: 0 },
      jpeg,
    );
    photos.write(
      { seq: 1, width: info.width, height: info.height, channels: 3, encoding: 0, sentAt: 0 },
      rgb,
    );
    const s = new Int32Array(2);
    photos.takePending(2, s);
    const result = await classify(
      { kind: 'classify', model: 'mobilenet-v2', slots: s, sidecars: photos.sidecarsOf(s) },
      { ...context(photos), modelsDir },
    );
    const direct = await loadModel('mobilenet-v2', { modelsDir });
    const logits = (await runModel(direct, await preprocessImage(file, direct.manifest), 1)).logits!;
    const best = logits.indexOf(Math.max(...logits));
    expect(result.failed).toEqual([]);
    expect(result.labels[0]).toBe(best);
    expect(result.labels[1]).toBe(best);
  });

  it('warmup loads the model and reports its verified file', async () => {
    const warm = await warmup({ kind: 'warmup', model: MODEL }, context(ring));
    expect(warm.modelPath).toMatch(/fashion-mnist-cnn\.onnx$/);
    expect(warm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(warm.outputs).toEqual({ logits: 'logits', embedding: 'embedding' });
  });
});
