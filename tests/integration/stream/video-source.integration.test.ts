import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useFfmpegBinaries } from '../../../src/common/ffmpeg.js';
import { sourceTimeOf } from '../../../src/common/wire/frame-time.js';
import { openSource } from '../../../src/stream/sources/index.js';
import type { FrameSource, SourceFrame } from '../../../src/stream/sources/source.js';
import { isVideoFile, videoFramesEvery } from '../../../src/stream/video-frames.js';
import { ffmpegChildren, opencvVideo, skipVideoTests, tempFile } from '../../helpers/video.js';
import { tempDir } from './helpers.js';

const skip = skipVideoTests();

async function collect(source: FrameSource, options: { count?: number; fps?: number }, signal?: AbortSignal) {
  const frames: SourceFrame[] = [];
  const controller = new AbortController();
  for await (const frame of source.frames({ ...options, signal: signal ?? controller.signal }))
    frames.push(frame);
  return frames;
}

afterEach(() => {
  // Every ffmpeg a test started has been reaped by the time its promise settled.
  expect(ffmpegChildren()).toEqual([]);
});

describe.skipIf(skip)('video file source (opencv-doc vtest.avi, 768×576, 10 fps)', () => {
  let vtest: string;
  beforeAll(() => {
    vtest = opencvVideo('vtest.avi');
  });

  it('opens with the video size and yields JPEG frames carrying their video times at fps 0', async () => {
    const source = await openSource(vtest);
    expect(source.info).toMatchObject({ width: 768, height: 576, channels: 3, labelled: false });
    const frames = await collect(source, { count: 25, fps: 0 });
    expect(frames).toHaveLength(25);
    expect(frames.map((f) => f.sourceTimeMs)).toEqual(frames.map((_, i) => i * 100));
    for (const [i, frame] of frames.entries()) {
      expect(frame.encoding).toBe(1);
      expect(sourceTimeOf(frame.payload)).toBe(i * 100);
      const meta = await sharp(frame.payload).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 768, 576]);
    }
    // Consecutive frames of a street camera differ (real decoding, not one frame repeated).
    const a = await sharp(frames[0]!.payload).raw().toBuffer();
    const b = await sharp(frames[24]!.payload).raw().toBuffer();
    expect(a.equals(b)).toBe(false);
  });

  it('keeps one frame per 1/fps of video time and never plays faster than the video', async () => {
    const source = await openSource(vtest);
    const started = performance.now();
    const frames = await collect(source, { count: 6, fps: 4 });
    const elapsed = performance.now() - started;
    // 4 fps of a 10 fps video: the first frame of each 250 ms interval.
    expect(frames.map((f) => f.sourceTimeMs)).toEqual([0, 300, 500, 800, 1000, 1300]);
    // Paced by the video's own times: 1.3 s of video take at least ~1.3 s.
    expect(elapsed).toBeGreaterThanOrEqual(1250);
    // Asking for more than the video has keeps every frame and still does not speed it up.
    const fast = performance.now();
    const all = await collect(await openSource(vtest), { count: 8, fps: 100 });
    expect(all.map((f) => f.sourceTimeMs)).toEqual([0, 100, 200, 300, 400, 500, 600, 700]);
    expect(performance.now() - fast).toBeGreaterThanOrEqual(650);
  });

  it('bounds frames by --frame-size, keeping the aspect ratio', async () => {
    const source = await openSource(vtest, {
      video: { frameSize: { width: 320, height: 320 }, stallTimeoutSeconds: 5 },
    });
    expect([source.info.width, source.info.height]).toEqual([320, 240]);
    const frames = await collect(source, { count: 3, fps: 0 });
    for (const frame of frames) {
      const meta = await sharp(frame.payload).metadata();
      expect([frame.width, frame.height, meta.width, meta.height]).toEqual([320, 240, 320, 240]);
    }
  });

  it('kills ffmpeg when a session stops mid-video', async () => {
    const source = await openSource(vtest);
    const controller = new AbortController();
    let seen = 0;
    for await (const frame of source.frames({ fps: 0, signal: controller.signal })) {
      expect(frame.payload.length).toBeGreaterThan(1000);
      if (++seen === 5) {
        expect(ffmpegChildren()).toHaveLength(1);
        controller.abort();
      }
    }
    expect(seen).toBe(5);
  });

  it('videoFramesEvery yields a frame every N seconds of video with its time (for the index)', async () => {
    const got: Array<{ timeMs: number; time: string; ref: string; width: number }> = [];
    for await (const frame of videoFramesEvery(vtest, 20)) {
      expect((await sharp(frame.jpeg).metadata()).format).toBe('jpeg');
      got.push({ timeMs: frame.timeMs, time: frame.time, ref: frame.ref, width: frame.width });
    }
    expect(got).toEqual(
      [0, 20, 40, 60].map((s) => ({
        timeMs: s * 1000,
        time: `00:${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.000`,
        ref: `${vtest}#t=${s}.000`,
        width: 768,
      })),
    );
    expect(isVideoFile('a/b/clip.MP4')).toBe(true);
    expect(isVideoFile('a/b/photo.jpg')).toBe(false);
    // Stopping early (the index was interrupted) kills ffmpeg; afterEach checks none is left.
    for await (const frame of videoFramesEvery(vtest, 1)) {
      expect(frame.timeMs).toBe(0);
      break;
    }
  });
});

describe.skipIf(skip)('video sources: bad input gets one line naming it, nothing hangs', () => {
  it('a file that is not a video', async () => {
    const file = await tempFile(await tempDir(), 'notes.mp4', 'this is text, not a video\n'.repeat(50));
    await expect(openSource(file)).rejects.toThrow(
      new RegExp(`^${file.replace(/[.]/g, '\\.')}: not a readable video \\(ffprobe: .*Invalid data`),
    );
  });

  it('a damaged video whose frames cannot be decoded', async () => {
    // The container parses but the frame data is noise.
    const dir = await tempDir();
    const real = opencvVideo('vtest.avi');
    const { readFile } = await import('node:fs/promises');
    const bytes = Buffer.from(await readFile(real)).subarray(0, 200_000);
    for (let i = 8_000; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const file = await tempFile(dir, 'damaged.avi', bytes);
    const outcome = await openSource(file).then(
      async (source) => collect(source, { fps: 0 }),
      (err: Error) => err,
    );
    // Either refused at open with a line naming the file, or whatever decoded is delivered and the rest is cut.
    if (outcome instanceof Error) expect(outcome.message).toContain(path.basename(file));
    else expect(outcome.length).toBeLessThan(100);
  });

  it('a missing ffmpeg (FFMPEG_PATH/FFPROBE_PATH pointing nowhere)', async () => {
    try {
      useFfmpegBinaries({ ffprobe: '/nonexistent/ffprobe' });
      await expect(openSource(opencvVideo('vtest.avi'))).rejects.toThrow(
        /vtest\.avi: cannot run ffprobe \(\/nonexistent\/ffprobe not found/,
      );
      useFfmpegBinaries({ ffprobe: 'ffprobe', ffmpeg: '/nonexistent/ffmpeg' });
      await expect(openSource(opencvVideo('vtest.avi'))).rejects.toThrow(
        /vtest\.avi: cannot decode, ffmpeg not found \(\/nonexistent\/ffmpeg/,
      );
    } finally {
      useFfmpegBinaries({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
    }
  });
});
