/**
 * Video export in every codec VIDEO_CODEC names, checked with ffprobe: codec, container, frame count,
 * duration, size. Frames are real: decoded from opencv-doc's vtest.avi at an odd size, mixed with a
 * 299×299 PNG photo and a raw gray 28×28 Fashion-MNIST-sized frame (odd and mixed sizes → padded canvas).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useFfmpegBinaries } from '../../../src/common/ffmpeg.js';
import type { KeptImage } from '../../../src/dedupe/index.js';
import { canvasRgb, encodeVideo, VIDEO_CODEC_NAMES } from '../../../src/dedupe/video-export.js';
import { decodeVideo } from '../../../src/stream/video-decoder.js';
import { ffmpegChildren, ffprobeVideo, opencvVideo, skipVideoTests } from '../../helpers/video.js';
import { tempDir } from '../stream/helpers.js';

const skip = skipVideoTests();
const POTATO = path.join('tests', 'fixtures', 'stream', 'potatoes');

const EXPECTED: Record<string, { codec: string; format: RegExp; ext: string; pixFmt: string }> = {
  h264: { codec: 'h264', format: /mp4/, ext: 'mp4', pixFmt: 'yuv420p' },
  avc1: { codec: 'h264', format: /mp4/, ext: 'mp4', pixFmt: 'yuv420p' },
  X264: { codec: 'h264', format: /mp4/, ext: 'mp4', pixFmt: 'yuv420p' },
  mp4v: { codec: 'mpeg4', format: /mp4/, ext: 'mp4', pixFmt: 'yuv420p' },
  HEVC: { codec: 'hevc', format: /mp4/, ext: 'mp4', pixFmt: 'yuv420p' },
  vp9: { codec: 'vp9', format: /webm/, ext: 'webm', pixFmt: 'yuv420p' },
  mjpeg: { codec: 'mjpeg', format: /avi/, ext: 'avi', pixFmt: 'yuvj420p' },
};

afterEach(() => {
  expect(ffmpegChildren()).toEqual([]);
});

describe.skipIf(skip)('video export', () => {
  let frames: KeptImage[];
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('framesift-video-export-');
    frames = [];
    for await (const f of decodeVideo({ input: opencvVideo('vtest.avi'), maxFps: 2 })) {
      // 333×251: odd in both directions.
      const jpeg = await sharp(f.jpeg).resize(333, 251, { fit: 'fill' }).jpeg().toBuffer();
      frames.push({ width: 333, height: 251, channels: 3, encoding: 1, data: jpeg });
      if (frames.length === 10) break;
    }
    const potato = (await readdir(POTATO)).filter((f) => f.endsWith('.png')).sort()[0]!;
    frames.push({
      width: 299,
      height: 299,
      channels: 3,
      encoding: 2,
      data: await readFile(path.join(POTATO, potato)),
    });
    const gray = new Uint8Array(28 * 28).map((_, i) => (i * 7) % 256);
    frames.push({ width: 28, height: 28, channels: 1, encoding: 0, data: gray });
  });

  it.each(VIDEO_CODEC_NAMES)(
    '%s: ffprobe sees the codec, every frame, the duration and the even canvas',
    async (codec) => {
      const want = EXPECTED[codec]!;
      const file = path.join(dir, `${codec}.${want.ext}`);
      const written = await encodeVideo({ frames, sizes: frames, codec, fps: 5, file });
      expect(written).toMatchObject({ frames: 12, width: 334, height: 300, codec: want.codec });
      const probe = ffprobeVideo(file);
      expect(probe).toMatchObject({
        codec: want.codec,
        width: 334,
        height: 300,
        frames: 12,
        pixFmt: want.pixFmt,
      });
      expect(probe.format).toMatch(want.format);
      expect(probe.durationSeconds).toBeGreaterThan(2.3);
      expect(probe.durationSeconds).toBeLessThan(2.7);
      // The first frame in the video is the first frame given (not black, not another frame).
      const decoded = execFileSync('ffmpeg', [
        '-v',
        'error',
        '-i',
        file,
        '-frames:v',
        '1',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-',
      ]);
      const expected = await canvasRgb(frames[0]!, { width: 334, height: 300 });
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff += Math.abs(expected[i]! - decoded[i]!);
      expect(diff / expected.length).toBeLessThan(12);
      // Nothing left of the temp file.
      expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
    },
  );

  it('MP4s of h264 carry faststart (moov before mdat)', async () => {
    const file = path.join(dir, 'h264.mp4');
    if (!existsSync(file)) await encodeVideo({ frames, sizes: frames, codec: 'h264', fps: 5, file });
    const bytes = await readFile(file);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
  });

  it('an unknown codec and a missing ffmpeg are one-line errors; no temp file stays', async () => {
    await expect(
      encodeVideo({ frames, sizes: frames, codec: 'divx', fps: 5, file: path.join(dir, 'x.avi') }),
    ).rejects.toThrow('video codec "divx": expected one of h264, avc1, X264, mp4v, HEVC, vp9, mjpeg');
    useFfmpegBinaries({ ffmpeg: '/nonexistent/ffmpeg' });
    try {
      await expect(
        encodeVideo({ frames, sizes: frames, codec: 'h264', fps: 5, file: path.join(dir, 'missing.mp4') }),
      ).rejects.toThrow(/missing\.mp4: ffmpeg not found \(\/nonexistent\/ffmpeg/);
    } finally {
      useFfmpegBinaries({ ffmpeg: 'ffmpeg' });
    }
    expect((await readdir(dir)).filter((f) => f.startsWith('missing'))).toEqual([]);
  });
});
