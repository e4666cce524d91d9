/**
 * Decoding a video (file or network stream) to JPEG frames with ffmpeg, each with the video's own time.
 *
 * ffmpeg writes JPEG files back to back on stdout (`-f image2pipe -c:v mjpeg`), split here on their
 * markers; the showinfo filter prints each frame's presentation time and size on stderr, in the same order,
 * so the two are paired one to one. Frames are selected by timestamp inside ffmpeg (the first frame of each
 * 1/fps interval of video time; never duplicated), scaled down to the size bound there too, so nothing
 * unused is ever encoded. stdout is paused while the consumer is behind: memory stays bounded and ffmpeg
 * waits. The child is killed when the consumer stops early or the signal aborts.
 */
import { UserError } from '../common/errors.js';
import { exitSummary, ffmpegPath, spawnFfmpeg, type FfmpegExit } from '../common/ffmpeg.js';
import { JpegSplitter } from './jpeg-splitter.js';

/** Width and height bound of frames (`--frame-size`): frames are scaled down to fit, never up. */
export interface FrameBound {
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** A file path or a URL ffmpeg can read (rtsp://, http(s)://). */
  input: string;
  /** Stops decoding and kills ffmpeg. */
  signal?: AbortSignal;
  /** Keep at most this many frames per second of video time; undefined or 0 = every frame. */
  maxFps?: number;
  frameSize?: FrameBound;
  /** ffmpeg's mjpeg quality scale, 2 (best) to 31; default 3. */
  quality?: number;
  /** Options placed before `-i` (network timeouts, transport, wall-clock timestamps). */
  inputOptions?: string[];
}

export interface DecodedFrame {
  /** The frame's presentation time in the video, ms (for wall-clock timestamps: ms since the epoch). */
  timeMs: number;
  width: number;
  height: number;
  jpeg: Buffer;
  /** 0-based index among the frames this decoder yielded. */
  index: number;
}

/** Why decoding stopped short: the reason is a metric label; `frames` says how far it got. */
export class VideoDecodeError extends UserError {
  constructor(
    readonly reason: 'missing-ffmpeg' | 'not-video' | 'failed',
    message: string,
    readonly frames: number,
  ) {
    super(message);
    this.name = 'VideoDecodeError';
  }
}

const SHOWINFO = /Parsed_showinfo.*\spts_time:\s*(-?[0-9.eE+-]+|nan).*\ss:(\d+)x(\d+)/;
/** JPEGs waiting for the consumer before ffmpeg's stdout is paused. */
const HIGH_WATER_FRAMES = 4;

export function filterChain(options: Pick<DecodeOptions, 'maxFps' | 'frameSize'>): string {
  const filters: string[] = [];
  if (options.maxFps && options.maxFps > 0) {
    const f = options.maxFps;
    // The first frame of each 1/f interval of video time: drops frames, never repeats one.
    filters.push(`select='isnan(prev_selected_t)+gte(floor(t*${f})-floor(prev_selected_t*${f}),1)'`);
  }
  // Times in ms, strictly increasing: a live stream's arrival times can collide at its coarse time base,
  // and the JPEG encoder refuses a repeated time (which would break the frame/time pairing).
  filters.push('settb=1/1000', "setpts='if(isnan(PREV_OUTPTS),PTS,max(PTS,PREV_OUTPTS+1))'");
  if (options.frameSize) {
    const { width: w, height: h } = options.frameSize;
    filters.push(
      `scale=w='min(iw,${w})':h='min(ih,${h})':force_original_aspect_ratio=decrease:force_divisible_by=2`,
    );
  }
  filters.push('showinfo');
  return filters.join(',');
}

export function decodeArgs(options: DecodeOptions): string[] {
  return [
    '-loglevel',
    'info',
    ...(options.inputOptions ?? []),
    '-i',
    options.input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filterChain(options),
    '-fps_mode',
    'passthrough',
    '-enc_time_base',
    '1/1000',
    '-f',
    'image2pipe',
    '-c:v',
    'mjpeg',
    '-q:v',
    String(options.quality ?? 3),
    'pipe:1',
  ];
}

function failure(input: string, exit: FfmpegExit, frames: number): VideoDecodeError {
  if (exit.code === null && exit.stderrTail.some((l) => l.endsWith('not found'))) {
    return new VideoDecodeError(
      'missing-ffmpeg',
      `${input}: cannot decode, ffmpeg not found (${ffmpegPath()}; install Debian's ffmpeg or set FFMPEG_PATH)`,
      frames,
    );
  }
  const summary = exitSummary(exit);
  const notVideo =
    frames === 0 &&
    /Invalid data found|does not contain any stream|matches no streams|Decoder .* not found|unsupported|No such file/i.test(
      exit.stderrTail.join('\n'),
    );
  return new VideoDecodeError(
    notVideo ? 'not-video' : 'failed',
    notVideo
      ? `${input}: not a decodable video (ffmpeg: ${summary})`
      : `${input}: decoding stopped after ${frames} frames (ffmpeg: ${summary})`,
    frames,
  );
}

/**
 * Yields the frames of `options.input` as JPEG with their times. Ends when the video ends; throws a
 * VideoDecodeError when ffmpeg fails (after yielding what it decoded). Breaking out of the loop or
 * aborting kills ffmpeg; the generator returns only once the child has exited.
 */
export async function* decodeVideo(options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  const times: Array<{ timeMs: number; width: number; height: number }> = [];
  const jpegs: Buffer[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const child = spawnFfmpeg(decodeArgs(options), {
    signal: options.signal,
    onStderrLine: (line) => {
      const match = SHOWINFO.exec(line);
      if (!match) return;
      const seconds = Number(match[1]);
      times.push({
        timeMs: Number.isFinite(seconds) ? seconds * 1000 : NaN,
        width: Number(match[2]),
        height: Number(match[3]),
      });
      notify();
    },
  });
  const splitter = new JpegSplitter();
  const stdout = child.process.stdout;
  let stdoutEnded = false;
  stdout.on('data', (chunk: Buffer) => {
    const frames = splitter.push(chunk);
    if (frames.length) {
      jpegs.push(...frames);
      if (jpegs.length >= HIGH_WATER_FRAMES) stdout.pause();
      notify();
    }
  });
  stdout.on('end', () => {
    stdoutEnded = true;
    notify();
  });
  stdout.on('error', () => {
    stdoutEnded = true;
    notify();
  });
  let exit: FfmpegExit | undefined;
  void child.exited.then((e) => {
    exit = e;
    notify();
  });
  let index = 0;
  try {
    for (;;) {
      if (options.signal?.aborted) return;
      if (jpegs.length && times.length) {
        const jpeg = jpegs.shift()!;
        const time = times.shift()!;
        if (jpegs.length < HIGH_WATER_FRAMES && stdout.isPaused()) stdout.resume();
        yield { ...time, jpeg, index: index++ };
        continue;
      }
      // Finished when ffmpeg has exited and stdout has delivered everything; a JPEG whose showinfo line
      // never came cannot be timed and is not yielded (it would only happen on a killed child).
      if (exit && stdoutEnded) break;
      if (stdout.isPaused() && jpegs.length < HIGH_WATER_FRAMES) stdout.resume();
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (options.signal?.aborted) return;
    if (exit.code !== 0) throw failure(options.input, exit, index);
    if (index === 0) {
      throw new VideoDecodeError('not-video', `${options.input}: no video frames decoded`, 0);
    }
  } finally {
    child.kill();
    await child.exited;
  }
}
