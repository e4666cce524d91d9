import { describe, expect, it } from 'vitest';
import { RecordedSession } from '../../helpers/recorded-session.js';
import { validateResultsDocument, type ResultsSample } from '../../../src/common/results-document.js';
import { FASHION_MNIST_CLASSES } from '../../../src/results/labels.js';
import { buildResultsDocument } from '../../../src/results/write.js';
import { displayImage, renderSampleCard } from '../../../src/results/render.js';

/** The server's default ws maxPayload (64 MiB): a submit message must fit in one frame. */
const SERVER_MAX_PAYLOAD = 64 * 1024 * 1024;
const FRAMES = 100_000;

describe('results document size', () => {
  it(`stays far below the server's 64 MiB maxPayload for ${FRAMES} predictions`, async () => {
    const recorder = new RecordedSession();
    let state = 99;
    const random = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Noise frames: the least compressible samples, so the sample PNGs are as large as they get.
    const noise = Array.from({ length: 64 }, () =>
      Uint8Array.from({ length: 28 * 28 }, () => Math.floor(random() * 256)),
    );
    const t0 = 1_700_000_000_000;
    for (let seq = 0; seq < FRAMES; seq++) {
      const pixels = noise[seq % noise.length] as Uint8Array;
      recorder.received(seq);
      // Confidences with many digits: each becomes 6 characters after rounding.
      const confidence = 0.1 + random() * 0.8999;
      recorder.predicted(
        seq,
        seq % 10,
        confidence,
        { width: 28, height: 28, channels: 1, encoding: 0, data: pixels },
        t0 + seq,
        t0 + seq + 5 + random() * 20,
      );
    }
    // The real sample cards, as writeResultsFolder renders them.
    const samples: ResultsSample[] = [];
    for (const sample of recorder.recorder.samples.samples()) {
      const card = await renderSampleCard(await displayImage(sample.image), {
        seq: sample.seq,
        predicted: FASHION_MNIST_CLASSES[sample.label] ?? '',
        confidence: sample.confidence,
      });
      samples.push({
        seq: sample.seq,
        label: sample.label,
        confidence: Math.round(sample.confidence * 1e4) / 1e4,
        png: card.toString('base64'),
      });
    }
    const document = buildResultsDocument(
      {
        sessionId: 'size-test',
        mode: 'classify',
        source: { name: 'fashion-mnist-train', width: 28, height: 28, channels: 1 },
        model: { file: 'fashion-mnist-cnn.onnx', sha256: '0'.repeat(64) },
        ...recorder.outcome(FRAMES),
        timings: { startedAt: t0, endedAt: t0 + FRAMES + 100 },
      },
      samples,
    );
    expect(document.predictions.seq).toHaveLength(FRAMES);
    expect(document.samples).toHaveLength(10);
    expect(document.reconciliation.reconciled).toBe(true);
    expect(validateResultsDocument(document).ok).toBe(true);

    const submit = JSON.stringify({ type: 'submit', sessionId: document.sessionId, results: document });
    const bytes = Buffer.byteLength(submit);
    expect(bytes).toBeLessThan(SERVER_MAX_PAYLOAD);
    // Measured: 1,588,938 bytes (≈14.8 bytes per frame + ~11 KB per sample card); a jump means the format bloated.
    expect(bytes).toBeLessThan(4 * 1024 * 1024);
    expect(bytes / FRAMES).toBeLessThan(25);
  });
});
