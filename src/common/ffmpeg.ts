/**
 * Debian's ffmpeg and ffprobe as child processes: the binaries (FFMPEG_PATH / FFPROBE_PATH override them),
 * one spawn helper that always reaps what it starts, and a probe of a video's first video stream.
 *
 * Every child is tracked from spawn to exit: an abort or `kill()` sends SIGKILL (a decoder has nothing to
 * finish), and when this process exits any child still alive is killed, so no ffmpeg outlives framesift.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { UserError, errorMessage } from './errors.js';
import { loggerFor } from './logger.js';
import { metric, metricsRegistry, prom } from './metrics.js';

const log = loggerFor('ffmpeg');

const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' };

/**
 * Sets the binaries (FFMPEG_PATH / FFPROBE_PATH, resolved by the config module); by default whatever
 * `PATH` finds (Debian: /usr/bin/ffmpeg). Commands call this once at start.
 */
export function useFfmpegBinaries(paths: { ffmpeg?: string; ffprobe?: string }): void {
  if (paths.ffmpeg) binaries.ffmpeg = paths.ffmpeg;
  if (paths.ffprobe) binaries.ffprobe = paths.ffprobe;
}
export function ffmpegPath(): string {
  return binaries.ffmpeg;
}
export function ffprobePath(): string {
  return binaries.ffprobe;
}

const liveChildren = new Set<FfmpegChild>();

const childrenGauge = () =>
  metric(
    'framesift_ffmpeg_processes',
    () =>
      new prom.Gauge({
        name: 'framesift_ffmpeg_processes',
        help: 'ffmpeg/ffprobe child processes currently running.',
        registers: [metricsRegistry],
        collect() {
          this.set(liveChildren.size);
        },
      }),
  );

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously: kill() is synchronous, so nothing is left behind on a normal exit.
  process.once('exit', () => {
    for (const child of liveChildren) child.kill();
  });
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last stderr lines that were not progress/frame-info lines (ffmpeg's own error message). */
  stderrTail: string[];
}

export interface SpawnOptions {
  /** Killed (SIGKILL) when this aborts. */
  signal?: AbortSignal;
  /** Called with each complete stderr line (frame info from the showinfo filter, warnings). */
  onStderrLine?: (line: string) => void;
  /** Pipe stdin (an encoder fed frames); default: stdin ignored. */
  stdin?: boolean;
}

/** One running ffmpeg/ffprobe: its pipes, a promise of its exit, and kill(). */
export class FfmpegChild {
  readonly process: ChildProcessByStdio<Writable | null, Readable, Readable>;
  readonly exited: Promise<FfmpegExit>;
  private readonly tail: string[] = [];

  constructor(
    readonly binary: string,
    args: string[],
    options: SpawnOptions = {},
  ) {
    installExitHook();
    childrenGauge();
    this.process = spawn(binary, args, {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    liveChildren.add(this);
    let partial = '';
    this.process.stderr.setEncoding('utf8');
    this.process.stderr.on('data', (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) this.line(line, options.onStderrLine);
    });
    const onAbort = () => this.kill();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.exited = new Promise<FfmpegExit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        liveChildren.delete(this);
        options.signal?.removeEventListener('abort', onAbort);
        if (partial) this.line(partial, options.onStderrLine);
        partial = '';
        resolve({ code, signal, stderrTail: [...this.tail] });
      };
      this.process.once('error', (err: NodeJS.ErrnoException) => {
        // ENOENT/EACCES: the binary is missing; 'close' may not follow, so finish here.
        this.tail.push(err.code === 'ENOENT' ? `${binary}: not found` : errorMessage(err));
        finish(null, null);
      });
      this.process.once('close', finish);
    });
    if (options.signal?.aborted) this.kill();
  }

  private line(line: string, onLine?: (line: string) => void): void {
    if (!line.trim()) return;
    onLine?.(line);
    if (line.includes('Parsed_showinfo')) return;
    this.tail.push(line.trim());
    if (this.tail.length > 8) this.tail.shift();
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && liveChildren.has(this);
  }

  /** SIGKILL now (idempotent); `exited` resolves once the OS has reaped it. */
  kill(): void {
    if (!this.running) return;
    this.process.stdout.destroy();
    this.process.stdin?.destroy();
    this.process.kill('SIGKILL');
  }
}

/** The child processes still running (tests check that none is left behind). */
export function runningFfmpegChildren(): number {
  return liveChildren.size;
}

/** ffmpeg's own error in one line: the last line that says what went wrong, else the exit status. */
export function exitSummary(exit: FfmpegExit): string {
  const meaningful = exit.stderrTail.filter((l) => !/^(frame=|size=|video:|\[out#|Press \[q\])/.test(l));
  const last = meaningful.at(-1);
  const status = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return last ? `${last} (${status})` : status;
}

export function spawnFfmpeg(args: string[], options: SpawnOptions = {}): FfmpegChild {
  return new FfmpegChild(ffmpegPath(), ['-hide_banner', '-nostdin', '-nostats', ...args], options);
}

/** What ffprobe says about a file's first video stream. */
export interface VideoProbe {
  format: string;
  codec: string;
  width: number;
  height: number;
  /** Seconds; undefined for a live stream. */
  durationSeconds?: number;
  /** Frames per second from the stream's average rate, when known. */
  fps?: number;
  /** Frames in the stream header (nb_frames), when the container says. */
  frames?: number;
}

/** Parses a rate like "30000/1001"; undefined when absent or 0/0. */
function parseRate(rate: string | undefined): number | undefined {
  if (!rate) return undefined;
  const [n, d] = rate.split('/').map(Number);
  if (!n || !d) return undefined;
  return n / d;
}

/** Runs ffprobe and returns its stdout; throws UserError naming `input` when ffprobe fails or is missing. */
export async function runFfprobe(input: string, args: string[], signal?: AbortSignal): Promise<string> {
  const child = new FfmpegChild(ffprobePath(), ['-v', 'error', ...args, '-of', 'json', input], { signal });
  const chunks: Buffer[] = [];
  child.process.stdout.on('data', (c: Buffer) => chunks.push(c));
  const exit = await child.exited;
  if (exit.code !== 0) {
    if (exit.code === null && exit.stderrTail.some((l) => l.endsWith('not found'))) {
      throw new UserError(
        `${input}: cannot run ffprobe (${ffprobePath()} not found; install Debian's ffmpeg or set FFPROBE_PATH)`,
      );
    }
    // ffprobe names the input itself; once at the start of the line is enough.
    const summary = exitSummary(exit).replace(`${input}: `, '');
    throw new UserError(`${input}: not a readable video (ffprobe: ${summary})`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Probes `file`: its container, first video stream's codec and size, duration and rate. Throws UserError
 * naming the file when it is not a video, has no video stream or its codec has no decoder here.
 */
export async function probeVideo(file: string, signal?: AbortSignal): Promise<VideoProbe> {
  const text = await runFfprobe(
    file,
    [
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name,codec_type,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:format=format_name,duration',
    ],
    signal,
  );
  const parsed = JSON.parse(text) as {
    streams?: Array<Record<string, string | number | undefined>>;
    format?: { format_name?: string; duration?: string };
  };
  const stream = parsed.streams?.[0];
  if (!stream || !stream.width || !stream.height) {
    throw new UserError(`${file}: no video stream (expected a video file such as .mp4, .avi, .mkv, .webm)`);
  }
  if (!stream.codec_name) {
    throw new UserError(`${file}: video codec not supported by this ffmpeg (no decoder)`);
  }
  const duration = Number(stream.duration ?? parsed.format?.duration);
  const frames = Number(stream.nb_frames);
  return {
    format: parsed.format?.format_name ?? 'unknown',
    codec: String(stream.codec_name),
    width: Number(stream.width),
    height: Number(stream.height),
    ...(Number.isFinite(duration) && duration > 0 ? { durationSeconds: duration } : {}),
    ...(() => {
      const fps = parseRate(String(stream.avg_frame_rate)) ?? parseRate(String(stream.r_frame_rate));
      return fps ? { fps } : {};
    })(),
    ...(Number.isInteger(frames) && frames > 0 ? { frames } : {}),
  };
}

/** The encoders this ffmpeg has (`ffmpeg -encoders`), by name. */
export async function ffmpegEncoders(): Promise<Set<string>> {
  const child = spawnFfmpeg(['-encoders']);
  const chunks: Buffer[] = [];
  child.process.stdout.on('data', (c: Buffer) => chunks.push(c));
  const exit = await child.exited;
  if (exit.code !== 0) throw new UserError(`cannot run ffmpeg (${ffmpegPath()}): ${exitSummary(exit)}`);
  const names = new Set<string>();
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    const match = /^\s[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match) names.add(match[1]!);
  }
  log.debug('ffmpeg encoders', { count: names.size });
  return names;
}
