/**
 * Writing frames as a video with ffmpeg (`--save-as video`, `POST /api/save {"saveAs":"video"}`).
 *
 * VIDEO_CODEC names the codec as the operator app did (h264, avc1, X264, mp4v, HEVC) plus vp9 and mjpeg;
 * each maps to one ffmpeg encoder and container. Frames of any size (odd, mixed, gray, encoded or raw) are
 * fitted into one even-sized canvas — the largest width and height among them, rounded up to even — scaled
 * down where needed and centred on black, and piped to ffmpeg as raw RGB at a constant frame rate. ffmpeg
 * writes to a temp file that is renamed into place only when it exits cleanly.
 */
import { once } from 'node:events';
import { rename, rm } from 'node:fs/promises';
import sharp from 'sharp';
import { UserError } from '../common/errors.js';
import { exitSummary, ffmpegPath, spawnFfmpeg } from '../common/ffmpeg.js';
import type { KeptImage } from './save.js';

export interface VideoCodecSpec {
  /** The codec's canonical name (what ffprobe reports). */
  codec: 'h264' | 'mpeg4' | 'hevc' | 'vp9' | 'mjpeg';
  encoder: string;
  extension: 'mp4' | 'webm' | 'avi';
  /** Encoder and muxer options after `-c:v <encoder>`. */
  options: string[];
}

const H264: VideoCodecSpec = {
  codec: 'h264',
  encoder: 'libx264',
  extension: 'mp4',
  options: ['-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
};

/** VIDEO_CODEC values (case-insensitive) → encoder. h264, avc1 and X264 are one codec under three names. */
export const VIDEO_CODECS: Record<string, VideoCodecSpec> = {
  h264: H264,
  avc1: H264,
  x264: H264,
  mp4v: {
    codec: 'mpeg4',
    encoder: 'mpeg4',
    extension: 'mp4',
    options: ['-q:v', '4', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
  },
  hevc: {
    codec: 'hevc',
    encoder: 'libx265',
    extension: 'mp4',
    // hvc1 tag: what players (QuickTime, browsers) expect for HEVC in MP4.
    options: [
      '-preset',
      'fast',
      '-crf',
      '28',
      '-pix_fmt',
      'yuv420p',
      '-tag:v',
      'hvc1',
      '-x265-params',
      'log-level=error',
      '-movflags',
      '+faststart',
    ],
  },
  vp9: {
    codec: 'vp9',
    encoder: 'libvpx-vp9',
    extension: 'webm',
    options: [
      '-b:v',
      '0',
      '-crf',
      '33',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-row-mt',
      '1',
      '-pix_fmt',
      'yuv420p',
    ],
  },
  mjpeg: {
    codec: 'mjpeg',
    encoder: 'mjpeg',
    extension: 'avi',
    options: ['-q:v', '3', '-pix_fmt', 'yuvj420p'],
  },
};

export const VIDEO_CODEC_NAMES = ['h264', 'avc1', 'X264', 'mp4v', 'HEVC', 'vp9', 'mjpeg'] as const;

export function videoCodecSpec(name: string): VideoCodecSpec {
  const spec = VIDEO_CODECS[name.toLowerCase()];
  if (!spec) throw new UserError(`video codec "${name}": expected one of ${VIDEO_CODEC_NAMES.join(', ')}`);
  return spec;
}

/** The canvas every frame is fitted into: the largest width and height, rounded up to even (yuv420p). */
export function canvasFor(sizes: Iterable<{ width: number; height: number }>): {
  width: number;
  height: number;
} {
  let width = 0;
  let height = 0;
  for (const s of sizes) {
    width = Math.max(width, s.width);
    height = Math.max(height, s.height);
  }
  if (width === 0 || height === 0) throw new UserError('video export: no frames to write');
  return { width: width + (width % 2), height: height + (height % 2) };
}

/** One frame as raw RGB at the canvas size: as is when it already is, else fitted (contain) on black. */
export async function canvasRgb(
  image: KeptImage,
  canvas: { width: number; height: number },
): Promise<Buffer> {
  if (
    image.encoding === 0 &&
    image.channels === 3 &&
    image.width === canvas.width &&
    image.height === canvas.height
  ) {
    return Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  }
  const input =
    image.encoding === 0
      ? sharp(image.data, {
          raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 | 4 },
        })
      : sharp(image.data);
  return input
    .resize(canvas.width, canvas.height, {
      fit: 'contain',
      background: { r: 0, g: 0, b: 0 },
      withoutEnlargement: false,
    })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer();
}

export interface EncodeVideoRequest {
  /** The frames in order; each is loaded when its turn comes (kept frames in memory, or from the spool). */
  frames: AsyncIterable<KeptImage> | Iterable<KeptImage>;
  /** Sizes of the frames, in the same order (the canvas is known before the first frame is written). */
  sizes: Array<{ width: number; height: number }>;
  codec: string;
  fps: number;
  /** The final path; ffmpeg writes `<file>.<pid>.tmp.<ext>` beside it first. */
  file: string;
  signal?: AbortSignal;
}

export interface EncodedVideo {
  file: string;
  frames: number;
  width: number;
  height: number;
  codec: VideoCodecSpec['codec'];
  encoder: string;
  fps: number;
}

/**
 * Encodes `frames` into `file` with the codec's encoder at `fps` (constant rate: frame i is shown at
 * i/fps s). Rejects with a UserError carrying ffmpeg's own message if ffmpeg is missing or fails; the temp
 * file is removed then, and ffmpeg is always reaped.
 */
export async function encodeVideo(request: EncodeVideoRequest): Promise<EncodedVideo> {
  const spec = videoCodecSpec(request.codec);
  const canvas = canvasFor(request.sizes);
  const temp = `${request.file}.${process.pid}.tmp.${spec.extension}`;
  const child = spawnFfmpeg(
    [
      '-loglevel',
      'error',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${canvas.width}x${canvas.height}`,
      '-framerate',
      String(request.fps),
      '-i',
      'pipe:0',
      '-an',
      '-c:v',
      spec.encoder,
      ...spec.options,
      '-f',
      spec.extension === 'mp4' ? 'mp4' : spec.extension === 'webm' ? 'webm' : 'avi',
      '-y',
      temp,
    ],
    { stdin: true, signal: request.signal },
  );
  const stdin = child.process.stdin!;
  // EPIPE when ffmpeg dies early: the exit status below says why.
  stdin.on('error', () => undefined);
  let frames = 0;
  try {
    for await (const image of request.frames) {
      if (!child.running) break;
      const rgb = await canvasRgb(image, canvas);
      if (!stdin.write(rgb)) await Promise.race([once(stdin, 'drain'), child.exited]);
      frames++;
    }
    stdin.end();
    const exit = await child.exited;
    if (exit.code !== 0) {
      if (exit.code === null && exit.stderrTail.some((l) => l.endsWith('not found'))) {
        throw new UserError(
          `video export ${request.file}: ffmpeg not found (${ffmpegPath()}; install Debian's ffmpeg or set FFMPEG_PATH)`,
        );
      }
      throw new UserError(`video export ${request.file} (${spec.encoder}): ${exitSummary(exit)}`);
    }
    if (frames !== request.sizes.length) {
      throw new UserError(`video export ${request.file}: wrote ${frames} of ${request.sizes.length} frames`);
    }
    await rename(temp, request.file);
    return {
      file: request.file,
      frames,
      ...canvas,
      codec: spec.codec,
      encoder: spec.encoder,
      fps: request.fps,
    };
  } catch (err) {
    child.kill();
    await child.exited;
    await rm(temp, { force: true });
    throw err;
  }
}
