/**
 * The worker pool against a real ONNX model: the project's Fashion-MNIST CNN when it is present, frames
 * read in place from a shared frame ring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import ort from 'onnxruntime-node';
import { FrameRing } from '../../../src/common/frame-ring.js';
import {
  createAnalysisPool,
  defaultIntraOpThreads,
  defaultThreads,
  type AnalysisPool,
} from '../../../src/analysis/index.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { testModel } from '../../../tests/integration/processing/helpers.js';
import { MODELS_DIR } from '../../test-data.js';

const { ref: MODEL, path: MODEL_PATH } = testModel();

describe('analysis pool', () => {
  let ring: FrameRing;
  let pool: AnalysisPool;
  let images: Uint8Array;
  beforeAll(async () => {
    images = (await loadFashionMnist('test')).images;
    ring = FrameRing.create({ slots: 64, slotBytes: 784 });
    pool = createAnalysisPool({
      threads: 1,
      intraOpThreads: 1,
      modelsDir: MODELS_DIR,
      ring,
    });
  });
  afterAll(async () => {
    await pool?.destroy();
  });

  it('chooses threads and intra-op threads within the cores', () => {
    expect(defaultThreads(1)).toBe(1);
    expect(defaultThreads(8)).toBe(7);
    for (const cores of [1, 2, 4, 8, 16]) {
      const threads = defaultThreads(cores);
      expect(threads * defaultIntraOpThreads(threads, cores)).toBeLessThanOrEqual(Math.max(cores, 1));
    }
  });

  it('classifies raw frames from the ring exactly like the model run directly', async () => {
    const n = 32;
    for (let i = 0; i < n; i++) {
      ring.write(
        { seq: i, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 },
        images.subarray(i * 784, (i + 1) * 784),
      );
    }
    const slots = new Int32Array(n);
    ring.takePending(n, slots);
    const result = await pool.run({ kind: 'classify', model: MODEL, slots, embedding: true });
    const direct = { session: await ort.InferenceSession.create(MODEL_PATH) };
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = images[i]! / 255;
    const out = await direct.session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
    const logits = out.logits!.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      expect(result.labels[i]).toBe(row.indexOf(Math.max(...row)));
    }
    expect(result.failed).toEqual([]);
    expect(result.embeddingDim).toBeGreaterThan(0);
    expect(result.embeddings!.length).toBe(n * result.embeddingDim);
    expect(result.confidences.every((c) => c > 0.1 && c <= 1)).toBe(true);
    for (const slot of slots) ring.release(slot);
  });

  it('decodes PNG and off-size frames on the worker and reports an undecodable one without failing the batch', async () => {
    const raw = images.subarray(0, 784);
    const png = await sharp(raw, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    const big = await sharp(raw, { raw: { width: 28, height: 28, channels: 1 } })
      .resize(56, 56)
      .raw()
      .toBuffer();
    const s0 = ring.write({ seq: 100, width: 28, height: 28, channels: 1, encoding: 2, sentAt: 0 }, png);
    const s1 = ring.write({ seq: 101, width: 56, height: 56, channels: 1, encoding: 0, sentAt: 0 }, big);
    const s2 = ring.write(
      { seq: 102, width: 28, height: 28, channels: 1, encoding: 1, sentAt: 0 },
      Buffer.from('not a jpeg at all'),
    );
    const s3 = ring.write({ seq: 103, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 }, raw);
    expect(ring.isOversize(s1)).toBe(true);
    const slots = new Int32Array(4);
    ring.takePending(4, slots);
    const result = await pool.run({
      kind: 'classify',
      model: MODEL,
      slots,
      sidecars: ring.sidecarsOf(slots),
    });
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ index: 2, reason: 'undecodable' });
    expect(result.failed[0]!.message).toMatch(/frame 102/);
    expect(result.labels[2]).toBe(-1);
    // The PNG decodes to the same pixels as the raw frame: same class.
    expect(result.labels[0]).toBe(result.labels[3]);
    expect(result.labels[1]).toBeGreaterThanOrEqual(0);
    for (const slot of [s0, s1, s2, s3]) ring.release(slot);
  });

  it('tasks sent to one worker together do not interleave (they share its scratch tensor)', async () => {
    const pngs = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        sharp(images.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
          .png()
          .toBuffer(),
      ),
    );
    const encodedSlots = new Int32Array(4);
    pngs.forEach((png, i) =>
      ring.write({ seq: 200 + i, width: 28, height: 28, channels: 1, encoding: 2, sentAt: 0 }, png),
    );
    ring.takePending(4, encodedSlots);
    const rawSlots = new Int32Array(4);
    for (let i = 0; i < 4; i++) {
      const j = 40 + i;
      ring.write(
        { seq: 300 + i, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 0 },
        images.subarray(j * 784, (j + 1) * 784),
      );
    }
    ring.takePending(4, rawSlots);
    // Together (the worker holds both), then each alone: the same answers.
    const [a, b] = await Promise.all([
      pool.run({
        kind: 'classify',
        model: MODEL,
        slots: encodedSlots,
        sidecars: ring.sidecarsOf(encodedSlots),
      }),
      pool.run({ kind: 'classify', model: MODEL, slots: rawSlots }),
    ]);
    const a1 = await pool.run({
      kind: 'classify',
      model: MODEL,
      slots: encodedSlots,
      sidecars: ring.sidecarsOf(encodedSlots),
    });
    const b1 = await pool.run({ kind: 'classify', model: MODEL, slots: rawSlots });
    expect(Array.from(a.confidences)).toEqual(Array.from(a1.confidences));
    expect(Array.from(b.confidences)).toEqual(Array.from(b1.confidences));
    for (const slot of [...encodedSlots, ...rawSlots]) ring.release(slot);
  });

  it('warms up every worker and names a missing model', async () => {
    const warm = await pool.warmup(MODEL);
    expect(warm[0]).toMatchObject({ input: { channels: 1, height: 28, width: 28 } });
    expect(warm[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    await expect(
      pool.warmup({
        path: '/nonexistent/model.onnx',
        input: { channels: 1, height: 28, width: 28 },
        outputs: { logits: 'logits' },
      }),
    ).rejects.toThrow(/\/nonexistent\/model.onnx: cannot load/);
  });

  it('rejects an unknown task kind', async () => {
    await expect(pool.run({ kind: 'nope' } as never)).rejects.toThrow(/unknown task kind "nope"/);
  });
});
