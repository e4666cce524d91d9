// End-to-end throughput of the client pipeline: a stream server in a child process (`serve`) streams
// 20,000 Fashion-MNIST frames (the train split: the test split has 10,000) at fps 0 (as fast as the client drains) to `run` in this process
// (listener → frame ring → worker pool → results stage). Reports frames/s, end-to-end latency p50/p99
// (sentAt → result consumed), peak RSS and drops, and — measured in the same run, with the same thread
// count per worker — model-only throughput (ONNX Runtime alone on the same frames), so the ratio
// end-to-end / model-only shows what the pipeline costs on top of inference.
//
// Knobs (environment): BENCH_E2E_FRAMES (20000), BENCH_E2E_CONFIGS ("batchSize:waitMs[:ringSlots],..." to
// sweep),
// BENCH_E2E_POLICY (block), BENCH_E2E_MODEL_FILE (an ONNX file of the same interface instead of the
// fashion-mnist-cnn manifest model).
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { runPipeline } from '../dist/commands/run.js';
import { defaultIntraOpThreads, defaultThreads } from '../dist/analysis/index.js';
import { loadModel } from '../dist/analysis/models.js';
import { loadFashionMnist } from '../dist/stream/fashion-mnist.js';
import { resolveConfig } from '../dist/common/config.js';
import { startServerProcess } from './server-process.js';

/** The option defaults `run` uses (src/common/config.ts). */
const RUN_DEFAULTS = resolveConfig('run', {}, {});

const here = path.dirname(fileURLToPath(import.meta.url));
const FRAMES = Number(process.env.BENCH_E2E_FRAMES ?? 20_000);
const SOURCE = FRAMES > 10_000 ? 'fashion-mnist-train' : 'fashion-mnist-test';
const POLICY = process.env.BENCH_E2E_POLICY ?? 'block';
const MODEL_FILE = process.env.BENCH_E2E_MODEL_FILE;
const MODEL = MODEL_FILE
  ? {
      path: MODEL_FILE,
      input: { name: 'input', channels: 1, height: 28, width: 28 },
      outputs: { logits: 'logits' },
    }
  : 'fashion-mnist-cnn';
const CONFIGS = (process.env.BENCH_E2E_CONFIGS ?? 'default').split(',').map((c) => {
  if (c === 'default') return {};
  const [batchSize, batchWaitMs, ringSlots] = c.split(':').map(Number);
  return { batchSize, batchWaitMs, ...(ringSlots ? { ringSlots } : {}) };
});

function quantile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** ONNX Runtime alone on the same frames, same batch size, same intra-op threads as one pool worker. */
let inputsCache;
/** The bench frames as the model's input (pixel/255), prepared once. */
async function modelInputs() {
  if (!inputsCache) {
    const { images } = await loadFashionMnist(SOURCE === 'fashion-mnist-train' ? 'train' : 'test');
    const n = Math.min(FRAMES, images.length);
    const input = new Float32Array(n * 784);
    for (let i = 0; i < input.length; i++) input[i] = images[i] / 255;
    inputsCache = { n, input };
  }
  return inputsCache;
}

async function modelOnly(batchSize, intraOpThreads, threads) {
  const session = MODEL_FILE
    ? await ort.InferenceSession.create(MODEL_FILE, {
        intraOpNumThreads: intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      })
    : (await loadModel('fashion-mnist-cnn', { modelsDir: process.env.MODELS_DIR, intraOpThreads })).session;
  const { n, input } = await modelInputs();
  const run = async () => {
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const tensor = new ort.Tensor('float32', input.subarray(start * 784, (start + b) * 784), [
        b,
        1,
        28,
        28,
      ]);
      const out = await session.run({ input: tensor }, ['logits']);
      out.logits.dispose();
    }
  };
  await run(); // warm-up
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  await session.release();
  // The pool runs `threads` such sessions side by side: model-only capacity scales with them.
  return { framesPerSecond: (n / seconds) * threads };
}

const PACED_FPS = Number(process.env.BENCH_E2E_PACED_FPS ?? 2000);

async function session(server, cfg, count, fps) {
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 20);
  const result = await runPipeline(
    {
      host: '127.0.0.1',
      framesPort: server.framesPort,
      controlPort: server.controlPort,
      metricsPort: 0,
      modelsDir: process.env.MODELS_DIR ?? 'models',
      count,
      source: SOURCE,
      fps,
      ringPolicy: POLICY,
      ...cfg,
    },
    { skipResults: true, model: MODEL },
  ).finally(() => clearInterval(sampler));
  const counts = result.ledger.counts(result.sent);
  const latencies = Float64Array.from(result.recorder.predictions.latencyMs()).sort();
  return {
    result,
    counts,
    e2e: counts.processed / (result.streamMs / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    rssMb: rssPeak / 2 ** 20,
    rssAddedMb: (rssPeak - rssBefore) / 2 ** 20,
  };
}

export async function run() {
  const server = await startServerProcess({ resultsDir: path.join(here, 'results', 'e2e-server') });
  const rows = [];
  const cores = availableParallelism();
  const threads = defaultThreads(cores);
  const intraOpThreads = defaultIntraOpThreads(threads, cores);
  try {
    for (const cfg of CONFIGS) {
      for (const fps of [0, PACED_FPS]) {
        const count = fps === 0 ? FRAMES : Math.min(FRAMES, PACED_FPS * 3);
        // Model-only right before and right after the session, so both see the same machine load.
        const expectedBatch = Math.max(
          1,
          Math.min(
            cfg.batchSize ?? RUN_DEFAULTS.batchSize,
            Math.floor((cfg.ringSlots ?? RUN_DEFAULTS.ringSlots) / (threads * 2 + 1)),
          ),
        );
        const before = fps === 0 ? await modelOnly(expectedBatch, intraOpThreads, threads) : null;
        const m = await session(server, cfg, count, fps);
        const { result, counts } = m;
        const after =
          fps === 0 ? await modelOnly(result.batchSize, result.intraOpThreads, result.threads) : null;
        const model =
          before && after ? { framesPerSecond: (before.framesPerSecond + after.framesPerSecond) / 2 } : null;
        rows.push({
          frames: count,
          fps,
          policy: POLICY,
          workers: result.threads,
          intraOp: result.intraOpThreads,
          batchSize: result.batchSize,
          batchWaitMs: cfg.batchWaitMs ?? 'default',
          ringSlots: cfg.ringSlots ?? 'default',
          batches: result.batches,
          'e2e frames/s': m.e2e,
          'model-only frames/s': model?.framesPerSecond ?? null,
          ratio: model ? m.e2e / model.framesPerSecond : null,
          'worker busy %':
            (100 * (result.workerMs.infer + result.workerMs.prep)) / result.threads / result.streamMs,
          'infer frames/s': counts.processed / (result.workerMs.infer / 1000),
          'p50 ms': m.p50,
          'p99 ms': m.p99,
          'peak RSS MB': m.rssMb,
          'RSS added MB': m.rssAddedMb,
          received: counts.received,
          processed: counts.processed,
          dropped: Object.values(counts.dropped).reduce((a, b) => a + b, 0),
          missing: counts.missing,
          pauses: result.pauses,
        });
      }
    }
  } finally {
    await server.stop();
  }
  return {
    name: 'e2e',
    rows,
    notes: [
      `${cores} cores: ${threads} worker(s) × ${intraOpThreads} intra-op thread(s); the server runs in a separate process on the same machine`,
      'model-only: ONNX Runtime session.run alone on the same frames (tensors prepared outside the timing), same batch size and threads, scaled by the worker count; mean of a run just before and just after the session',
      'latency: sentAt (server clock) → result consumed on the main thread; the server and client share one clock',
      'peak RSS: the client process sampled every 20 ms during the session (it also holds the model-only inputs, ~60 MB); RSS added: above the level at session start',
      `at fps 0 the latency is queueing (ring + socket buffers full by design); the fps ${PACED_FPS} row shows the latency of a paced stream`,
    ],
  };
}
