/**
 * Dedupe of real video end to end: the stream server streams opencv-doc's vtest.avi (a fixed street
 * camera) or a loopback RTSP stream of it, `run --mode dedupe` keeps the distinct frames, and saves write
 * videos (checked with ffprobe) and manifests whose frames carry their times in the source video.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../../src/commands/run.js';
import type { UniquesManifest } from '../../../src/dedupe/save.js';
import type { FramesManifest } from '../../../src/dedupe/frames-save.js';
import type { HttpServer } from '../../../src/common/http.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { pushRtsp, type Publisher } from '../../helpers/ffmpeg-publisher.js';
import {
  ffmpegChildren,
  ffprobeVideo,
  freePort,
  skipVideoTests,
  vtestClip,
  waitForListening,
} from '../../helpers/video.js';
import { tempDir } from '../stream/helpers.js';

const skip = skipVideoTests();
const FRAMES = 60;

async function postSave(url: string, body: unknown) {
  const response = await fetch(`${url}/api/save`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe.skipIf(skip)('dedupe of a video source', () => {
  let dir: string;
  let clip: string;
  let server: StreamServer;
  const publishers: Publisher[] = [];
  beforeAll(async () => {
    dir = await tempDir('framesift-video-dedupe-');
    clip = await vtestClip(dir, FRAMES);
    server = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      source: clip,
      resultsDir: path.join(dir, 'server'),
    });
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((p) => p.kill()));
    expect(ffmpegChildren()).toEqual([]);
  });

  it('video file: every frame accounted for, distinct frames kept, saves as video and images carry video times', async () => {
    let http: HttpServer | undefined;
    let midSave: Promise<{ status: number; json: Record<string, unknown> }> | undefined;
    const out = path.join(dir, 'out-file');
    const result = await runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        modelsDir: process.env.MODELS_DIR ?? 'models',
        out,
        workers: 1,
        // Paced, so that the save asked for after 20 frames is answered while the session still runs (at
        // fps 0 the last 40 frames can be processed before the request is even read, and the run's API
        // closes with the session).
        fps: 20,
        mode: 'dedupe',
        method: 'change',
        // A person crossing a 768×576 street view changes a few per cent of it.
        threshold: 0.05,
        saveName: 'order-77',
        saveAs: 'video',
        saveFrames: 'all',
        videoCodec: 'h264',
        videoFps: 10,
      },
      {
        onMetricsServer: (s) => (http = s),
        onProgress: (processed) => {
          if (!midSave && processed >= 20)
            midSave = postSave(http!.url, { name: 'mid', saveAs: 'video', frames: 'kept' });
        },
      },
    );
    expect(result.session).toMatchObject({ width: 768, height: 576, channels: 3, source: clip });
    expect(result.ledger.counts(result.sent)).toMatchObject({
      received: FRAMES,
      processed: FRAMES,
      missing: 0,
    });
    expect(result.sent).toBe(FRAMES);
    const status = result.deduper!.status();
    expect(status.frames).toBe(FRAMES);
    // People walk through a fixed camera: some frames are new, most are not.
    expect(status.uniques).toBeGreaterThan(1);
    expect(status.uniques).toBeLessThan(FRAMES);

    // The mid-session save: a video of the frames kept so far.
    const mid = await midSave!;
    expect(mid.status).toBe(201);
    expect(mid.json).toMatchObject({ saveAs: 'video', frames: 'kept' });
    const midProbe = ffprobeVideo(mid.json.video as string);
    expect(midProbe).toMatchObject({ codec: 'h264', width: 768, height: 576 });
    expect(midProbe.frames).toBe(mid.json.uniques);

    // --save-name with --save-as video --save-frames all: every frame, in order, with its video time.
    const folder = path.join(out, 'uniques', 'order-77');
    const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as FramesManifest;
    expect(manifest).toMatchObject({ format: 'framesift-frames/1', saveAs: 'video', frames: 'all' });
    expect(manifest.counts).toEqual({
      frames: FRAMES,
      uniques: status.uniques,
      duplicates: status.duplicates,
    });
    expect(manifest.items.map((i) => i.seq)).toEqual([...Array(FRAMES).keys()]);
    expect(manifest.items.map((i) => i.sourceTimeMs)).toEqual([...Array(FRAMES).keys()].map((i) => i * 100));
    expect(manifest.items[13]).toMatchObject({ sourceTime: '00:00:01.300', videoTimeMs: 1300 });
    const kept = new Set(result.deduper!.uniques().map((u) => u.seq));
    expect(manifest.items.filter((i) => i.unique).map((i) => i.seq)).toEqual([...kept]);
    const probe = ffprobeVideo(path.join(folder, manifest.video!.file));
    expect(probe).toMatchObject({
      codec: 'h264',
      width: 768,
      height: 576,
      frames: FRAMES,
      pixFmt: 'yuv420p',
    });
    expect(probe.durationSeconds).toBeCloseTo(FRAMES / 10, 1);

    // Images of the kept frames: the classic uniques manifest, now with each frame's video time.
    const images = await result.deduper!.save('order-77-images');
    const uniques = JSON.parse(
      await readFile(path.join(images.folder, 'manifest.json'), 'utf8'),
    ) as UniquesManifest;
    const saved = uniques.streams[0]!.uniques;
    expect(saved.map((u) => u.sourceTimeMs)).toEqual(saved.map((u) => u.seq! * 100));
    expect(uniques.streams[0]!.duplicates.every((d) => d.sourceTimeMs === d.seq! * 100)).toBe(true);
  });

  it('RTSP stream: a camera pushing H.264; run dedupes a fixed number of frames and saves a kept-frames video', async () => {
    const port = await freePort();
    const url = `rtsp://127.0.0.1:${port}/live`;
    const rtspServer = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      source: url,
      video: { stallTimeoutSeconds: 30, rtspListen: true },
      resultsDir: path.join(dir, 'server-rtsp'),
    });
    try {
      const out = path.join(dir, 'out-rtsp');
      const run = runPipeline(
        {
          host: '127.0.0.1',
          framesPort: rtspServer.framesPort,
          controlPort: rtspServer.controlPort,
          metricsPort: 0,
          modelsDir: process.env.MODELS_DIR ?? 'models',
          out,
          workers: 1,
          fps: 0,
          count: 30,
          mode: 'dedupe',
          method: 'change',
          saveName: 'rtsp-1',
          saveAs: 'video',
          videoCodec: 'vp9',
        },
        {},
      );
      await waitForListening(port);
      publishers.push(pushRtsp(clip, port));
      const result = await run;
      expect(result.ledger.counts(result.sent)).toMatchObject({
        received: 30,
        processed: 30,
        missing: 0,
      });
      const status = result.deduper!.status();
      expect(status.uniques).toBeGreaterThanOrEqual(1);
      const folder = path.join(out, 'uniques', 'rtsp-1');
      const manifest = JSON.parse(
        await readFile(path.join(folder, 'manifest.json'), 'utf8'),
      ) as FramesManifest;
      expect(manifest.items).toHaveLength(status.uniques);
      // Live stream times: ms since the epoch, increasing.
      const times = manifest.items.map((i) => i.sourceTimeMs!);
      expect(Math.abs(times[0]! - Date.now())).toBeLessThan(120_000);
      for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
      const probe = ffprobeVideo(path.join(folder, manifest.video!.file));
      expect(probe).toMatchObject({ codec: 'vp9', width: 768, height: 576, frames: status.uniques });
    } finally {
      await rtspServer.close();
    }
  });
});
