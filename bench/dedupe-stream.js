// Stream dedupe throughput: 640×480 JPEG frames (made from the shared pimmi photos in a temp folder, each
// photo three times in a row, so the store sees real duplicates) served by a stream server in a child
// process from a folder source at fps 0, consumed by `run --mode dedupe` (cnn) in this process. Reports
// end-to-end frames/s and, in the same run, inference-only throughput of the same model with the same
// batch size and intra-op threads.
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { EMBED_CHUNK } from '../dist/analysis/tasks/images.js';
import { runPipeline } from '../dist/commands/run.js';
import { cpuWithChildrenMs, measureCeiling } from './dedupe-ceiling.js';
import { startServerProcess } from './server-process.js';

const PHOTOS = Number(process.env.BENCH_DEDUPE_STREAM_PHOTOS ?? 300);
const REPEAT = 3;

async function makeFrames(dataRoot, dir) {
  await mkdir(dir, { recursive: true });
  const src = path.join(dataRoot, 'neardup/pimmi/images');
  const files = (await readdir(src)).sort().slice(0, PHOTOS);
  let n = 0;
  for (const f of files) {
    const jpeg = await sharp(path.join(src, f))
      .rotate()
      .resize(640, 480, { fit: 'cover' })
      .jpeg({ quality: 85 })
      .toBuffer();
    for (let r = 0; r < REPEAT; r++)
      await sharp(jpeg).toFile(path.join(dir, `frame-${String(n++).padStart(5, '0')}.jpg`));
  }
  return n;
}

export async function streamThroughput(notes, { modelsDir, dataRoot }) {
  const dir = path.join(os.tmpdir(), `framesift-bench-stream-${process.pid}`);
  try {
    const count = await makeFrames(dataRoot, path.join(dir, 'frames'));
    const server = await startServerProcess({
      source: path.join(dir, 'frames'),
      resultsDir: path.join(dir, 'server'),
    });
    try {
      const frames = (await readdir(path.join(dir, 'frames'))).sort().map((f) => path.join(dir, 'frames', f));
      const ceilingSample = frames.filter((_, i) => i % REPEAT === 0).slice(0, 160);
      const before = await measureCeiling(ceilingSample, modelsDir);
      for (const [workers, batchSize] of [[2, undefined]]) {
        const cpu0 = cpuWithChildrenMs();
        const result = await runPipeline(
          {
            host: '127.0.0.1',
            framesPort: server.framesPort,
            controlPort: server.controlPort,
            metricsPort: 0,
            modelsDir,
            out: path.join(dir, 'out'),
            fps: 0,
            count,
            mode: 'dedupe',
            method: 'cnn',
            // FRAMESIFT_KEYPOINTS=off measures the embedding rule alone (the default is auto).
            keypoints: process.env.FRAMESIFT_KEYPOINTS ?? 'auto',
            ...(workers ? { workers } : {}),
            ...(batchSize ? { batchSize } : {}),
          },
          { skipResults: true },
        );
        const cpuMs = cpuWithChildrenMs() - cpu0;
        const processed = result.ledger.processed;
        const fps = processed / (result.streamMs / 1000);
        const status = result.deduper.status();
        // The ceiling is measured before and after the run: the mean brackets load changes during it.
        const after = await measureCeiling(ceilingSample, modelsDir);
        const ceiling = (before.ceiling + after.ceiling) / 2;
        const parallel = (before.parallel + after.parallel) / 2;
        notes.push(
          `stream ceiling measured on all ${before.cores} cores at once (the same work on ${before.cores} worker processes): ` +
            `${before.parallel.toFixed(0)} before, ${after.parallel.toFixed(0)} after = ${parallel.toFixed(0)} frames/s; ` +
            `run --mode dedupe --workers ${workers} = ${(fps / parallel).toFixed(2)} of it`,
        );
        notes.push(
          `stream ceiling (read + decode + view + layout + inference of one 640×480 JPEG frame on one thread: ` +
            `${before.msPerImage.toFixed(1)} ms before, ${after.msPerImage.toFixed(1)} ms after the run) × ${before.cores} cores = ` +
            `${ceiling.toFixed(0)} frames/s; run --mode dedupe --workers ${workers}: ${fps.toFixed(0)} frames/s = ` +
            `${(fps / ceiling).toFixed(2)} of the ceiling; client CPU per frame ${(cpuMs / processed).toFixed(1)} ms vs the ceiling's ` +
            `${((before.cpuMsPerImage + after.cpuMsPerImage) / 2).toFixed(1)} ms = CPU efficiency ${((before.cpuMsPerImage + after.cpuMsPerImage) / 2 / (cpuMs / processed)).toFixed(2)}`,
        );
        notes.push(
          `stream: run --mode dedupe (cnn) over ${count} 640×480 JPEG frames from a folder source at fps 0, ` +
            `${result.threads} worker(s) × ${result.intraOpThreads} intra-op, batch ${result.batchSize} (inference in chunks of ${EMBED_CHUNK}): ` +
            `${fps.toFixed(0)} frames/s end-to-end (${processed} processed, ${status.uniques} uniques, keypoint check ${JSON.stringify(status.keypoints)}); ` +
            `client CPU ${(cpuMs / 1e3).toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
