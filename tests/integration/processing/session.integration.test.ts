/**
 * Full sessions of `run` against the real stream server on ephemeral ports, with the real model and the
 * real Fashion-MNIST test set.
 */
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineConfig } from '../../../src/commands/run.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { startServerFixture, testModel, type ServerFixture } from './helpers.js';

const { ref: MODEL, path: MODEL_PATH } = testModel();

describe('run: full session', () => {
  let fixture: ServerFixture;
  let base: Partial<PipelineConfig>;
  beforeAll(async () => {
    fixture = await startServerFixture('run');
    ({ base } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('2,000 frames at fps 0: received = sent = processed, and the server scores what the model says', async () => {
    const result = await runPipeline({ ...base, count: 2000 }, { model: MODEL });
    const counts = result.ledger.counts(result.sent);
    expect(counts).toEqual({
      sent: 2000,
      received: 2000,
      processed: 2000,
      dropped: {},
      invalid: {},
      missing: 0,
    });
    expect(result.ledger.reconcile(result.sent)).toMatchObject({ reconciled: true, missingRanges: [] });
    expect(result.verdict).toMatchObject({ complete: true, reasons: [] });
    expect(result.scored).toMatchObject({ type: 'scored', sent: 2000, received: 2000, reconciled: true });

    // The same model run directly on the same frames gives the same accuracy.
    const data = await loadFashionMnist('test');
    const session = await ort.InferenceSession.create(MODEL_PATH);
    const n = 2000;
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = data.images[i]! / 255;
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
    const logits = out.logits!.data as Float32Array;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c]! > logits[i * 10 + best]!) best = c;
      if (best === data.labels[i]) correct++;
    }
    expect(result.scored!.accuracy).toBeCloseTo(correct / n, 10);
    expect(result.written!.document.counts.processed).toBe(2000);
  });
});
