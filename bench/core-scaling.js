// Whether this machine's cores scale on their own: a compute-only loop (no memory traffic) timed on one
// worker thread, then on one thread per core at once. Per-thread speed near 1 means the cores are
// independent for arithmetic, so when the dedupe ceiling's decode + inference scales worse on the same
// threads (its "measured on every core at once" figure), the shared memory system is what limits it.
// Not part of `npm run bench`: `node bench/core-scaling.js [rounds]`.
import os from 'node:os';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

function spin() {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < 4e8; i++) x = (x + i * 7) ^ (x >>> 3);
  return { ms: performance.now() - started, x };
}

const onThread = () =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url));
    worker.once('message', (m) => resolve(m.ms));
    worker.once('error', reject);
  });

if (!isMainThread) {
  parentPort.postMessage(spin());
} else {
  const cores = os.availableParallelism();
  const rounds = Number(process.argv[2] ?? 3);
  for (let round = 1; round <= rounds; round++) {
    const one = await onThread();
    const all = await Promise.all(Array.from({ length: cores }, onThread));
    const slowest = Math.max(...all);
    console.log(
      `round ${round}: one thread ${one.toFixed(0)} ms; ${cores} at once ${all.map((t) => t.toFixed(0)).join(' / ')} ms; ` +
        `per-thread speed with all cores busy ${(one / slowest).toFixed(2)}`,
    );
  }
}
