// Stream dedupe throughput: 640×480 JPEG frames (made from the shared pimmi photos in a temp folder, each
// photo three times in a row, so the store sees real duplicates) served by a stream server in a child
// process from a folder source at fps 0, consumed by `run --mode dedupe` (cnn) in this process. Reports
// end-to-end frames/s and, in the same run, inference-only throughput of the same model with the same
// batch size and intra-op threads.
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { loadModel } from '../dist/analysis/models.js';
import { EMBED_CHUNK } from '../dist/analysis/tasks/images.js';
import { runPipeline } from '../dist/commands/run.js';
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

async function inferenceOnly(modelsDir, batchSize, intraOpThreads, frames) {
  const { session } = await loadModel('mobilenet-v3-small-075', { modelsDir, intraOpThreads });
  const input = new Float32Array(batchSize * 3 * 224 * 224);
  for (let i = 0; i < input.length; i++) input[i] = ((i * 2654435761) % 256) / 255;
  const tensor = new ort.Tensor('float32', input, [batchSize, 3, 224, 224]);
  await session.run({ input: tensor });
  const start = performance.now();
  let done = 0;
  while (done < frames) {
    const out = await session.run({ input: tensor });
    out.embedding.dispose();
    done += batchSize;
  }
  const seconds = (performance.now() - start) / 1000;
  await session.release();
  return done / seconds;
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
      for (const [workers, batchSize] of [
        [undefined, undefined],
        [undefined, 32],
        [2, 32],
      ]) {
        const cpu0 = process.cpuUsage();
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
            ...(workers ? { workers } : {}),
            ...(batchSize ? { batchSize } : {}),
          },
          { skipResults: true },
        );
        const cpu = process.cpuUsage(cpu0);
        const processed = result.ledger.processed;
        const fps = processed / (result.streamMs / 1000);
        const status = result.deduper.status();
        // The images task runs inference in chunks of EMBED_CHUNK frames: compare at that batch size.
        const inferFps = await inferenceOnly(
          modelsDir,
          EMBED_CHUNK,
          result.intraOpThreads,
          Math.max(256, processed),
        );
        notes.push(
          `stream: run --mode dedupe (cnn) over ${count} 640×480 JPEG frames from a folder source at fps 0, ` +
            `${result.threads} worker(s) × ${result.intraOpThreads} intra-op, batch ${result.batchSize} (inference in chunks of ${EMBED_CHUNK}): ` +
            `${fps.toFixed(0)} frames/s end-to-end (${processed} processed, ${status.uniques} uniques); ` +
            `inference-only, same model, batch ${EMBED_CHUNK}, same threads: ${inferFps.toFixed(0)} images/s; client CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
