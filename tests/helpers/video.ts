/**
 * Test helpers for video: Debian's opencv-doc sample videos (installed by .ci/run), ffmpeg on the PATH,
 * ffprobe checks of written videos, and the check that no ffmpeg child of this process is left running.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

const OPENCV_DATA = '/usr/share/doc/opencv-doc/examples/data';

function hasBinary(name: string): boolean {
  return spawnSync(name, ['-version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Why video tests cannot run here, or undefined when they can. In CI a missing package is a failure with
 * this message (the caller throws it); elsewhere the tests are skipped with it as the visible reason.
 */
export function videoUnavailable(): string | undefined {
  if (!hasBinary('ffmpeg') || !hasBinary('ffprobe'))
    return 'ffmpeg/ffprobe not installed (apt-get install ffmpeg)';
  if (
    !existsSync(path.join(OPENCV_DATA, 'vtest.avi')) &&
    !existsSync(path.join(OPENCV_DATA, 'vtest.avi.gz'))
  ) {
    return `${OPENCV_DATA}/vtest.avi missing (apt-get install opencv-doc)`;
  }
  return undefined;
}

/** Fails in CI (CI=true) when video tests cannot run; returns true when the suite should be skipped. */
export function skipVideoTests(): boolean {
  const reason = videoUnavailable();
  if (reason && process.env.CI === 'true') throw new Error(`video tests need Debian packages: ${reason}`);
  if (reason) process.stderr.write(`skipping video tests: ${reason}\n`);
  return reason !== undefined;
}

/**
 * A sample video of opencv-doc by name (e.g. `vtest.avi`, a fixed street camera, 768×576, 795 frames at
 * 10 fps). Debian may ship it gzip-compressed: then it is unpacked once into the temp folder.
 */
export function opencvVideo(name: string): string {
  const plain = path.join(OPENCV_DATA, name);
  if (existsSync(plain)) return plain;
  const gz = `${plain}.gz`;
  const target = path.join(os.tmpdir(), `framesift-opencv-${process.getuid?.() ?? 0}`, name);
  if (!existsSync(target)) {
    execFileSync('mkdir', ['-p', path.dirname(target)]);
    const bytes = gunzipSync(readFileSync(gz));
    const temp = `${target}.${process.pid}.tmp`;
    execFileSync('sh', ['-c', 'cat > "$1" && mv "$1" "$2"', 'sh', temp, target], { input: bytes });
  }
  return target;
}

/** A short clip cut from vtest.avi with ffmpeg (stream copy, frame-exact for its intra-heavy codec). */
export async function vtestClip(dir: string, frames: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const out = path.join(dir, `vtest-${frames}.avi`);
  if (!existsSync(out)) {
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      opencvVideo('vtest.avi'),
      '-frames:v',
      String(frames),
      '-c:v',
      'mjpeg',
      '-q:v',
      '3',
      out,
    ]);
  }
  return out;
}

export interface ProbedVideo {
  codec: string;
  width: number;
  height: number;
  frames: number;
  durationSeconds: number;
  pixFmt: string;
  format: string;
}

/** ffprobe of a written video: codec, size, frames counted by decoding, duration. */
export function ffprobeVideo(file: string): ProbedVideo {
  const text = execFileSync('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,width,height,nb_read_frames,pix_fmt,duration:format=format_name,duration',
    '-of',
    'json',
    file,
  ]).toString();
  const parsed = JSON.parse(text) as {
    streams: Array<Record<string, string | number>>;
    format: { format_name: string; duration?: string };
  };
  const s = parsed.streams[0]!;
  return {
    codec: String(s.codec_name),
    width: Number(s.width),
    height: Number(s.height),
    frames: Number(s.nb_read_frames),
    durationSeconds: Number(s.duration ?? parsed.format.duration),
    pixFmt: String(s.pix_fmt),
    format: parsed.format.format_name,
  };
}

/** Pids of this process's children whose command is ffmpeg or ffprobe (read from /proc). */
export function ffmpegChildren(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && (comm === 'ffmpeg' || comm === 'ffprobe')) found.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return found;
}

/** Writes `bytes` into a new temp file named `name`. */
export async function tempFile(dir: string, name: string, bytes: string | Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

/** True when a TCP socket on 127.0.0.1:`port` is in LISTEN state (read from /proc/net/tcp, no connection made). */
export function isListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const table = readFileSync('/proc/net/tcp', 'utf8').split('\n');
  return table.some((line) => line.includes(`0100007F${hex}`) && line.split(/\s+/)[4] === '0A');
}

/** Waits (polling /proc, no sleeps as synchronisation of our own code) until something listens on `port`. */
export async function waitForListening(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isListening(port)) {
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A free loopback port (bound and released; the caller binds it next). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
