// The speed ceiling of cnn dedupe on this machine, measured in the same run as the throughput it bounds:
// read + decode + the recipe's view and layout thumbnail + inference (chunks of 16, one intra-op thread),
// per image on this one thread, times the cores. Nothing else a dedupe run does (transport, ordering,
// the store, reports) is in it, so a run at ≥ 0.8 of it loses little to the pipeline.
//
// The same work is also measured on every core at once (one worker process per core, the sample split
// between them, as the dedupe runs use processes): on a shared machine the kernel shares CPU per session
// (autogroup), not per thread, so a second worker does not get a second core's worth and "one thread ×
// cores" overstates what a run can reach. On an idle machine the two figures are within ~10 %: two
// processes keep 0.89–1.02 of one's speed each (bench/core-scaling.js).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { loadModel } from '../dist/analysis/models.js';
import * as images from '../dist/analysis/tasks/images.js';

/** Decode + view + layout + inference of `files` on this thread: { ms, cpuMs } (after a warm-up chunk). */
export async function timePass(files, modelsDir, recipe = images.DEFAULT_CNN_RECIPE) {
  const { session } = await loadModel('mobilenet-v3-small-075', { modelsDir, intraOpThreads: 1 });
  const plane = 224 * 224;
  const chunk = images.EMBED_CHUNK;
  const input = new Float32Array(chunk * 3 * plane);
  const pass = async (list) => {
    for (let start = 0; start < list.length; start += chunk) {
      const part = list.slice(start, start + chunk);
      for (let i = 0; i < part.length; i++) {
        const item = { encoded: await readFile(part[i]) };
        const size = await images.imageSize(item);
        const pixels = await images.recipeView(item, recipe, size);
        if (recipe.layout) images.layoutThumbnail(pixels);
        images.rgbToChw(pixels, input, i * 3 * plane, plane);
      }
      const n = part.length;
      const out = await session.run({
        input: new ort.Tensor('float32', input.subarray(0, n * 3 * plane), [n, 3, 224, 224]),
      });
      out.embedding.dispose();
    }
  };
  await pass(files.slice(0, chunk)); // warm-up
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await pass(files);
  const cpu = process.cpuUsage(cpu0);
  await session.release();
  return { ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

if (process.argv[2] === '--ceiling-child') {
  // As in the analysis workers: one libvips thread per worker.
  sharp.concurrency(1);
  process.once('message', async ({ files, modelsDir, recipe }) => {
    process.send(await timePass(files, modelsDir, recipe));
  });
}

/** `timePass` in a child process of its own (one libvips thread, as an analysis worker process). */
export function timePassInProcess(files, modelsDir, recipe = images.DEFAULT_CNN_RECIPE) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--ceiling-child'], { serialization: 'advanced' });
    child.once('message', (result) => {
      resolve(result);
      child.disconnect();
    });
    child.once('error', reject);
    child.send({ files, modelsDir, recipe });
  });
}

/**
 * The ceiling work on `cores` worker processes at once (as the dedupe runs use them), each on its share
 * of `files`: images/s overall.
 */
async function parallelCeiling(files, modelsDir, recipe, cores) {
  const shares = Array.from({ length: cores }, (_, w) => files.filter((_, i) => i % cores === w));
  const results = await Promise.all(shares.map((share) => timePassInProcess(share, modelsDir, recipe)));
  // Images over the slowest worker's timed pass (the warm-ups and model loads are left out).
  const slowest = Math.max(...results.map((r) => r.ms));
  return (files.length * 1000) / slowest;
}

/**
 * { msPerImage, cpuMsPerImage, ceiling (images/s: one thread × cores), parallel (images/s measured on
 * every core at once), cores } over `files` (absolute paths).
 */
export async function measureCeiling(files, modelsDir, recipe = images.DEFAULT_CNN_RECIPE) {
  const { ms, cpuMs } = await timePass(files, modelsDir, recipe);
  const msPerImage = ms / files.length;
  // CPU time per image: on a shared machine wall time measures the neighbours too, CPU time less so.
  const cpuMsPerImage = cpuMs / files.length;
  const cores = os.availableParallelism();
  const parallel = await parallelCeiling(files, modelsDir, recipe, cores);
  return { msPerImage, cpuMsPerImage, cores, ceiling: (cores * 1000) / msPerImage, parallel };
}

/**
 * CPU time of this process and of its children that have ended, in ms (/proc/self/stat: utime, stime,
 * cutime, cstime, in clock ticks of 10 ms). A run's worker processes end before it returns, so a delta
 * around the run counts their work too; process.cpuUsage() would count this process alone.
 */
export function cpuWithChildrenMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks * 10;
}
