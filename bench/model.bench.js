// Model-only throughput: ONNX Runtime inference alone (no decoding, no transport), with the intra-op
// thread count each pool worker uses (1), on real inputs: Fashion-MNIST test images for the project's
// classifier, real photos (preprocessed once, outside the timing) for MobileNetV3-Small.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import { loadModel, preprocessImage, runModel } from '../dist/analysis/models.js';
import { fashionMnistDir, loadFashionMnist } from '../dist/stream/fashion-mnist.js';

const SECONDS_PER_CASE = Number(process.env.BENCH_SECONDS ?? 2);

/** Runs `infer` until SECONDS_PER_CASE have passed (after warm-up); images/s and batch latency quantiles. */
async function measure(infer, batch) {
  for (let i = 0; i < 3; i++) await infer();
  const latencies = [];
  const started = performance.now();
  while (performance.now() - started < SECONDS_PER_CASE * 1000 || latencies.length < 5) {
    const t0 = performance.now();
    await infer();
    latencies.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    imagesPerSecond: (latencies.length * batch) / elapsed,
    batchMsP50: q(0.5),
    batchMsP95: q(0.95),
    batches: latencies.length,
  };
}

function tile(images, count) {
  // `count` inputs cycling through the available ones.
  const size = images[0].length;
  const out = new Float32Array(count * size);
  for (let i = 0; i < count; i++) out.set(images[i % images.length], i * size);
  return out;
}

async function fashionRows() {
  const rows = [];
  const test = await loadFashionMnist('test', fashionMnistDir(process.env.FASHION_MNIST_DIR));
  const pixels = test.width * test.height;
  const images = [];
  for (let i = 0; i < 256; i++) {
    images.push(Float32Array.from(test.images.subarray(i * pixels, (i + 1) * pixels), (v) => v / 255));
  }
  for (const threads of [1, 2]) {
    const model = await loadModel('fashion-mnist-cnn', { intraOpThreads: threads });
    const batches = threads === 1 ? [1, 64, 256] : [256];
    for (const batch of batches) {
      const input = tile(images, batch);
      const m = await measure(() => runModel(model, input, batch), batch);
      rows.push({ model: 'fashion-mnist-cnn', intraOpThreads: threads, batch, ...m });
    }
    await model.session.release();
  }
  return rows;
}

async function photoRows() {
  const rows = [];
  const model = await loadModel('mobilenet-v3-small-075', { intraOpThreads: 1 });
  // The shipped fixture photos: this bench needs real images, not a particular set.
  const dir = fileURLToPath(new URL('../tests/fixtures/photos/caltech-resize', import.meta.url));
  const files = (await readdir(dir))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, 32);
  const images = await Promise.all(files.map((f) => preprocessImage(path.join(dir, f), model.manifest)));
  for (const batch of [1, 8, 32]) {
    const input = tile(images, batch);
    const m = await measure(() => runModel(model, input, batch), batch);
    rows.push({ model: 'mobilenet-v3-small-075', intraOpThreads: 1, batch, ...m });
  }
  await model.session.release();
  return rows;
}

export async function run() {
  const rows = [...(await fashionRows()), ...(await photoRows())];
  return {
    name: 'model',
    rows,
    notes: [
      'inference only (inputs prepared outside the timing); intra-op threads 1 = one pool worker',
      `each case runs ${SECONDS_PER_CASE} s after 3 warm-up batches (BENCH_SECONDS to change)`,
    ],
  };
}
