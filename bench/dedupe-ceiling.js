// The speed ceiling of cnn dedupe on this machine, measured in the same run as the throughput it bounds:
// read + decode + the recipe's view and layout thumbnail + inference (chunks of 16, one intra-op thread),
// per image on this one thread, times the cores. Nothing else a dedupe run does (transport, ordering,
// the store, reports) is in it, so a run at ≥ 0.8 of it loses little to the pipeline.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import ort from 'onnxruntime-node';
import { loadModel } from '../dist/analysis/models.js';
import * as images from '../dist/analysis/tasks/images.js';

/** { msPerImage, cpuMsPerImage, ceiling (images/s on all cores), cores } over `files` (absolute paths). */
export async function measureCeiling(files, modelsDir, recipe = images.DEFAULT_CNN_RECIPE) {
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
  const msPerImage = (performance.now() - started) / files.length;
  // CPU time per image: on a shared machine wall time measures the neighbours too, CPU time less so.
  const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / files.length;
  await session.release();
  const cores = os.availableParallelism();
  return { msPerImage, cpuMsPerImage, cores, ceiling: (cores * 1000) / msPerImage };
}
