// Video benchmarks on opencv-doc's vtest.avi (768×576, 795 frames, 10 fps; Debian package opencv-doc):
//  1. decode: ffmpeg decode + JPEG re-encode of every frame (the video source's own cost), frames/s;
//  2. decode-and-dedupe: the stream server (own process) streams the file at fps 0 and `run --mode dedupe`
//     consumes it, per method, end-to-end frames/s;
//  3. export: ms to write 100 frames of it per VIDEO_CODEC encoder (h264/avc1/X264 are one encoder).
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runPipeline } from '../dist/commands/run.js';
import { encodeVideo } from '../dist/dedupe/video-export.js';
import { decodeVideo } from '../dist/stream/video-decoder.js';
import { startServerProcess } from './server-process.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const REPEATS = Number(process.env.BENCH_VIDEO_REPEATS ?? 3);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  if (!existsSync(VTEST)) throw new Error(`${VTEST} missing: apt-get install opencv-doc ffmpeg`);
  const notes = [
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}): compare rows of one run; medians of ${REPEATS} runs`,
  ];
  const rows = [];
  const dir = path.join(os.tmpdir(), `framesift-bench-video-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    // 1. decode only
    const decodeRates = [];
    let frames = [];
    for (let r = 0; r < REPEATS; r++) {
      const started = performance.now();
      const got = [];
      for await (const f of decodeVideo({ input: VTEST })) got.push(f);
      decodeRates.push(got.length / ((performance.now() - started) / 1000));
      frames = got;
    }
    rows.push({
      stage: 'decode (ffmpeg → JPEG frames)',
      frames: frames.length,
      'frames/s': median(decodeRates),
    });

    // 2. decode and dedupe through the server and run
    const server = await startServerProcess({ source: VTEST, resultsDir: path.join(dir, 'server') });
    try {
      for (const [method, threshold] of [
        ['change', 0.05],
        ['phash', undefined],
        ['cnn', undefined],
      ]) {
        const rates = [];
        let uniques = 0;
        for (let r = 0; r < REPEATS; r++) {
          const result = await runPipeline({
            host: '127.0.0.1',
            framesPort: server.framesPort,
            controlPort: server.controlPort,
            metricsPort: 0,
            modelsDir: process.env.MODELS_DIR ?? 'models',
            out: path.join(dir, 'out'),
            fps: 0,
            mode: 'dedupe',
            method,
            ...(threshold !== undefined ? { threshold } : {}),
          });
          const processed = result.ledger.counts(result.sent).processed;
          if (processed !== frames.length)
            throw new Error(`${method}: processed ${processed} of ${frames.length}`);
          rates.push(processed / (result.streamMs / 1000));
          uniques = result.deduper.status().uniques;
        }
        rows.push({
          stage: `decode + dedupe (${method}), fps 0`,
          frames: frames.length,
          'frames/s': median(rates),
          uniques,
        });
      }
    } finally {
      await server.stop();
    }

    // 3. export 100 frames per encoder
    const hundred = frames
      .slice(0, 100)
      .map((f) => ({ width: f.width, height: f.height, channels: 3, encoding: 1, data: f.jpeg }));
    for (const codec of ['h264', 'mp4v', 'HEVC', 'vp9', 'mjpeg']) {
      const times = [];
      let bytes = 0;
      for (let r = 0; r < REPEATS; r++) {
        const file = path.join(
          dir,
          `export-${codec}-${r}.${codec === 'vp9' ? 'webm' : codec === 'mjpeg' ? 'avi' : 'mp4'}`,
        );
        const started = performance.now();
        await encodeVideo({ frames: hundred, sizes: hundred, codec, fps: 10, file });
        times.push(performance.now() - started);
        bytes = (await stat(file)).size;
      }
      rows.push({
        stage: `export 100 frames (${codec})`,
        frames: 100,
        'ms per 100 frames': median(times),
        'file KiB': Math.round(bytes / 1024),
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { name: 'video', rows, notes };
}
