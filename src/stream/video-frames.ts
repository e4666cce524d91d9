/**
 * Frames of a video file every N seconds, for indexing a video like a folder of images (`framesift index`
 * over videos: search can then answer "clip.mp4 at 00:01:23"). One ffmpeg decode of the file; the first
 * frame of each N-second interval of video time is kept (selected inside ffmpeg: the others are never
 * encoded). The decoder is killed and reaped when the caller stops iterating.
 */
import { UserError } from '../common/errors.js';
import { formatMediaTime } from '../common/wire/frame-time.js';
import { decodeVideo, type FrameBound } from './video-decoder.js';
import { VIDEO_FILE_EXTENSION } from './sources/video-file.js';

export interface VideoFrameSample {
  /** The frame's presentation time in the video, ms, and as `00:01:23.400`. */
  timeMs: number;
  time: string;
  /** A stable reference to this frame: `<file>#t=<seconds>` (a W3C media-fragment time). */
  ref: string;
  width: number;
  height: number;
  jpeg: Buffer;
}

export interface VideoFramesOptions {
  signal?: AbortSignal;
  /** Scale frames down to fit this box (e.g. an embedder needs no more than a few hundred pixels). */
  frameSize?: FrameBound;
}

/** True for file names the video sources and the index treat as video (.mp4, .avi, .mkv, .webm, …). */
export function isVideoFile(file: string): boolean {
  return VIDEO_FILE_EXTENSION.test(file);
}

/**
 * Yields one JPEG frame for every `everySeconds` of `file` (the first frame at or after 0, N, 2N… s), with
 * its time. Throws a UserError naming the file when it is not a decodable video or ffmpeg is missing.
 */
export async function* videoFramesEvery(
  file: string,
  everySeconds: number,
  options: VideoFramesOptions = {},
): AsyncGenerator<VideoFrameSample> {
  if (!(everySeconds > 0))
    throw new RangeError(`videoFramesEvery: everySeconds must be > 0, got ${everySeconds}`);
  for await (const frame of decodeVideo({
    input: file,
    maxFps: 1 / everySeconds,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.frameSize ? { frameSize: options.frameSize } : {}),
  })) {
    yield {
      timeMs: frame.timeMs,
      time: formatMediaTime(frame.timeMs),
      ref: `${file}#t=${(frame.timeMs / 1000).toFixed(3)}`,
      width: frame.width,
      height: frame.height,
      jpeg: frame.jpeg,
    };
  }
}

/**
 * The JPEG of the frame shown at `timeMs` of `file` (the first frame at or after it: the frame
 * videoFramesEvery yields for that time), for showing an indexed video frame. ffmpeg is reaped on return.
 */
export async function videoFrameAt(file: string, timeMs: number): Promise<Buffer> {
  for await (const frame of decodeVideo({ input: file, inputOptions: ['-ss', (timeMs / 1000).toFixed(3)] }))
    return frame.jpeg;
  throw new UserError(`${file}: no frame at ${formatMediaTime(timeMs)} (the video is shorter)`);
}
