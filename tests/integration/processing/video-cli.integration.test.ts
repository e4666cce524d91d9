/**
 * The real commands as separate processes: `framesift serve --source <video>` and `framesift run --mode
 * dedupe --save-as video`; and the one-line errors of bad video input and bad video flags. Needs
 * `npm run build` (npm test runs it first).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import type { FramesManifest } from '../../../src/dedupe/frames-save.js';
import { ffprobeVideo, skipVideoTests, tempFile, vtestClip } from '../../helpers/video.js';
import type { StreamServer } from '../../../src/stream/index.js';
import { ControlClient, receiveFrames, tempDir } from '../stream/helpers.js';

const skip = skipVideoTests();
const CLI = path.join(PROJECT_ROOT, 'dist', 'cli.js');
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(skip)('video from the command line', () => {
  let dir: string;
  let clip: string;
  beforeAll(async () => {
    dir = await tempDir('framesift-video-cli-');
    clip = await vtestClip(dir, 40);
  });

  describe('serve --source <video> and run --save-as video, as two processes', () => {
    let serve: ReturnType<typeof spawn>;
    let exited: Promise<number | null>;
    let ports: { framesPort: number; controlPort: number };
    beforeAll(async () => {
      serve = spawn(
        process.execPath,
        [
          CLI,
          'serve',
          '--source',
          clip,
          '--frames-port',
          '0',
          '--control-port',
          '0',
          '--log-level',
          'info',
          '--results-dir',
          path.join(dir, 'server'),
          '--frame-size',
          '640x640',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      exited = new Promise((resolve) => serve.once('exit', (code) => resolve(code)));
      ports = await new Promise((resolve, reject) => {
        let buffered = '';
        serve.stderr!.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          for (const line of buffered.split('\n')) {
            if (line.includes('"stream server listening"')) {
              const entry = JSON.parse(line) as { framesPort: number; controlPort: number };
              resolve(entry);
            }
          }
        });
        void exited.then((code) => reject(new Error(`serve exited early (${code})`)));
      });
    });
    afterAll(async () => {
      if (serve.exitCode === null) serve.kill('SIGTERM');
      expect(await exited).toBe(0);
    });

    it('dedupes the video and writes an MJPEG .avi of the kept frames with their video times', async () => {
      const out = path.join(dir, 'out');
      const result = await cli([
        'run',
        '--frames-port',
        String(ports.framesPort),
        '--control-port',
        String(ports.controlPort),
        '--metrics-port',
        '0',
        '--fps',
        '0',
        '--mode',
        'dedupe',
        '--method',
        'change',
        '--threshold',
        '0.05',
        '--workers',
        '1',
        '--out',
        out,
        '--save-name',
        'cli-1',
        '--save-as',
        'video',
        '--video-codec',
        'mjpeg',
        '--video-fps',
        '5',
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const folder = path.join(out, 'uniques', 'cli-1');
      const manifest = JSON.parse(
        await readFile(path.join(folder, 'manifest.json'), 'utf8'),
      ) as FramesManifest;
      expect(manifest.video).toMatchObject({
        file: 'cli-1.avi',
        codec: 'mjpeg',
        width: 640,
        height: 480,
        fps: 5,
      });
      expect(manifest.items.length).toBeGreaterThan(1);
      expect(manifest.items.every((i) => i.unique && i.sourceTimeMs === i.seq * 100)).toBe(true);
      const probe = ffprobeVideo(path.join(folder, 'cli-1.avi'));
      expect(probe).toMatchObject({ codec: 'mjpeg', width: 640, height: 480, frames: manifest.items.length });
      expect(probe.durationSeconds).toBeCloseTo(manifest.items.length / 5, 1);
    });

    it('SIGTERM mid-session: serve stops and the ffmpeg decoding for it is gone', async () => {
      const control = await ControlClient.connect({ controlPort: ports.controlPort } as StreamServer);
      const session = await control.request({ type: 'start', fps: 2 }, 'session');
      const { done } = receiveFrames(session.framesUrl as string);
      const childrenOf = (pid: number) =>
        readdirSync('/proc')
          .filter((e) => /^\d+$/.test(e))
          .map((e) => {
            try {
              const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
              const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
              return {
                pid: Number(e),
                comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
                ppid: Number(after[1]),
              };
            } catch {
              return undefined;
            }
          })
          .filter((p) => p && p.ppid === pid && p.comm === 'ffmpeg')
          .map((p) => p!.pid);
      let decoders: number[] = [];
      const deadline = Date.now() + 20_000;
      while ((decoders = childrenOf(serve.pid!)).length === 0) {
        if (Date.now() > deadline) throw new Error('serve started no ffmpeg for the session');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      serve.kill('SIGTERM');
      expect(await exited).toBe(0);
      const received = await done;
      expect(received.closeCode).toBe(1001);
      for (const pid of decoders) expect(existsSync(`/proc/${pid}`)).toBe(false);
      control.close();
    });
  });

  it('bad video input and bad video flags: one line naming them', async () => {
    const notVideo = await tempFile(dir, 'notes.mkv', 'not a video at all\n');
    const serve = await cli(['serve', '--source', notVideo, '--frames-port', '0', '--control-port', '0']);
    expect(serve.code).toBe(1);
    // One line for the person (the rest of stderr is the JSON log).
    const lines = serve.stderr.split('\n').filter((l) => l.startsWith('framesift:'));
    expect(lines).toEqual([
      `framesift: ${notVideo}: not a readable video (ffprobe: Invalid data found when processing input (exit code 1))`,
    ]);

    const noFfmpeg = await cli([
      'serve',
      '--source',
      clip,
      '--frames-port',
      '0',
      '--control-port',
      '0',
      '--ffprobe-path',
      '/nonexistent/ffprobe',
    ]);
    expect(noFfmpeg.code).toBe(1);
    expect(noFfmpeg.stderr.split('\n').filter((l) => l.startsWith('framesift:'))).toEqual([
      `framesift: ${clip}: cannot run ffprobe (/nonexistent/ffprobe not found; install Debian's ffmpeg or set FFPROBE_PATH)`,
    ]);

    const size = await cli(['serve', '--source', clip, '--frame-size', 'big']);
    expect(size.code).toBe(2);
    expect(size.stderr.split('\n').filter((l) => l.startsWith('framesift:'))).toEqual([
      'framesift: --frame-size="big": expected WIDTHxHEIGHT (e.g. 640x480) or one number for both, 2-65535',
    ]);
    const codec = await cli(['run', '--video-codec', 'divx']);
    expect(codec.code).toBe(2);
    expect(codec.stderr).toContain('--video-codec="divx": expected h264, avc1, X264');
  });
});
