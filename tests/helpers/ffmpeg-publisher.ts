/**
 * Loopback test streams served by a real ffmpeg from a video file: MJPEG over HTTP (ffmpeg's own HTTP
 * server, one client per process) and RTSP pushed to a listening receiver.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitForListening } from './video.js';

export interface Publisher {
  process: ChildProcess;
  exited: Promise<void>;
  /** SIGKILL and wait until it is reaped. */
  kill(): Promise<void>;
}

function publisher(args: string[]): Publisher {
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    process: child,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Serves `file` (looped, at its own rate) as multipart MJPEG at http://127.0.0.1:port/stream; resolves once listening. */
export async function serveMjpeg(file: string, port: number): Promise<Publisher> {
  const p = publisher([
    '-re',
    '-stream_loop',
    '-1',
    '-i',
    file,
    '-an',
    '-c:v',
    'mjpeg',
    '-q:v',
    '5',
    '-f',
    'mpjpeg',
    '-listen',
    '1',
    `http://127.0.0.1:${port}/stream`,
  ]);
  await waitForListening(port);
  return p;
}

/** Pushes `file` (looped, at its own rate, H.264) to an RTSP receiver listening at rtsp://127.0.0.1:port/live. */
export function pushRtsp(file: string, port: number): Publisher {
  return publisher([
    '-re',
    '-stream_loop',
    '-1',
    '-i',
    file,
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-f',
    'rtsp',
    '-rtsp_transport',
    'tcp',
    `rtsp://127.0.0.1:${port}/live`,
  ]);
}

/**
 * An MJPEG server that comes back: ffmpeg's HTTP server takes one client, so a new one is started on the
 * same port whenever the current one exits (a client left, or the test killed it), until stop().
 */
export async function serveMjpegRespawning(
  file: string,
  port: number,
): Promise<{ readonly current: Publisher; stop(): Promise<void> }> {
  let stopped = false;
  let current!: Publisher;
  const start = async (): Promise<void> => {
    current = await serveMjpeg(file, port);
    const mine = current;
    void mine.exited.then(() => {
      if (!stopped && current === mine) void start();
    });
  };
  await start();
  return {
    get current() {
      return current;
    },
    async stop() {
      stopped = true;
      await current.kill();
    },
  };
}
