// How well this machine's two cores share work, and where the dedupe ceiling's work loses when it runs on
// both at once. Each round times, on one worker and then on one worker per core at once:
//   - a compute-only loop (no memory traffic) on threads: near 1 means the cores are independent;
//   - with FRAMESIFT_TESTDATA set, the dedupe ceiling's own work (read + decode + view + layout +
//     inference of 160 pimmi photos, three times over, bench/dedupe-ceiling.js) on threads of one process, and on child
//     processes. The gap between those two is what libvips loses to running two pipelines in one process,
//     which is why photo work runs on a pool of processes (src/analysis/process-pool.ts).
// "per-worker speed" is the one-worker time over the slowest of the workers running at once.
// Not part of `npm run bench`: `npm run build && node bench/core-scaling.js [rounds]`.
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

function spin() {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < 4e8; i++) x = (x + i * 7) ^ (x >>> 3);
  return { ms: performance.now() - started, x };
}

const modelsDir = () => process.env.MODELS_DIR ?? fileURLToPath(new URL('../models', import.meta.url));

/** The ceiling's work on this thread: ms for the timed pass (dynamic import: the spin needs no build). */
async function ceilingWork(files) {
  const { timePass } = await import('./dedupe-ceiling.js');
  return (await timePass(files, modelsDir())).ms;
}

const onThread = (job) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
  });

/** The ceiling's work in a child process (bench/dedupe-ceiling.js runs it there). */
async function onProcess(job) {
  const { timePassInProcess } = await import('./dedupe-ceiling.js');
  return (await timePassInProcess(job.files, modelsDir())).ms;
}

async function work(job) {
  return job.kind === 'spin' ? spin().ms : ceilingWork(job.files);
}

async function pimmiSample() {
  const root = process.env.FRAMESIFT_TESTDATA;
  if (!root) return undefined;
  const dir = path.join(root, 'neardup/pimmi/images');
  const sample = (await readdir(dir))
    .sort()
    .filter((_, i) => i % 8 === 0)
    .slice(0, 160)
    .map((f) => path.join(dir, f));
  // Three times over: a pass of ~2.5 s, long enough for one stray process not to decide the figure.
  return [...sample, ...sample, ...sample];
}

if (!isMainThread) {
  parentPort.postMessage(await work(workerData));
} else {
  const cores = os.availableParallelism();
  const rounds = Number(process.argv[2] ?? 3);
  const files = await pimmiSample();
  const scaling = async (label, run, job) => {
    const one = await run(job);
    const all = await Promise.all(Array.from({ length: cores }, () => run(job)));
    const slowest = Math.max(...all);
    return `${label}: one ${one.toFixed(0)} ms, ${cores} at once ${all.map((t) => t.toFixed(0)).join(' / ')} ms, per-worker speed ${(one / slowest).toFixed(2)}`;
  };
  if (!files) console.log('FRAMESIFT_TESTDATA is not set: the compute-only loop only');
  for (let round = 1; round <= rounds; round++) {
    const lines = [await scaling('compute loop, threads', onThread, { kind: 'spin' })];
    if (files) {
      lines.push(await scaling('decode + inference, threads', onThread, { kind: 'ceiling', files }));
      lines.push(await scaling('decode + inference, processes', onProcess, { kind: 'ceiling', files }));
    }
    console.log(`round ${round}:\n  ${lines.join('\n  ')}`);
  }
}
