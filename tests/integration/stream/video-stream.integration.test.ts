import { afterEach, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../../src/common/metrics.js';
import { sourceTimeOf } from '../../../src/common/wire/frame-time.js';
import { openSource } from '../../../src/stream/sources/index.js';
import { pushRtsp, serveMjpegRespawning, type Publisher } from '../../helpers/ffmpeg-publisher.js';
import {
  ffmpegChildren,
  freePort,
  opencvVideo,
  skipVideoTests,
  vtestClip,
  waitForListening,
} from '../../helpers/video.js';
import { tempDir } from './helpers.js';

const skip = skipVideoTests();

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metricsRegistry.getSingleMetric(name)?.get();
  return (
    m?.values
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((t, v) => t + v.value, 0) ?? 0
  );
}

/** Resolves when `check` becomes true (polled); rejects after `timeoutMs`. */
async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const publishers: Publisher[] = [];
let stopServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopServer?.();
  stopServer = undefined;
  await Promise.all(publishers.splice(0).map((p) => p.kill()));
  expect(ffmpegChildren()).toEqual([]);
});

describe.skipIf(skip)('network video stream source on loopback', () => {
  it('HTTP MJPEG: a dropped and a stalled stream are counted, logged and reconnected; the session goes on', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/stream`;
    const server = await serveMjpegRespawning(opencvVideo('vtest.avi'), port);
    stopServer = () => server.stop();
    const source = await openSource(url, { video: { stallTimeoutSeconds: 3 } });
    expect(source.info).toMatchObject({ name: url, labelled: false, selfPaced: true });
    const reconnects = () => counter('framesift_video_reconnects_total');
    const errors = (reason: string) => counter('framesift_video_errors_total', { reason });
    const before = {
      reconnects: await reconnects(),
      stalls: await errors('stall'),
      drops: await errors('failed'),
    };
    const controller = new AbortController();
    const times: number[] = [];
    let phase: 'first' | 'after-drop' | 'after-stall' = 'first';
    let phaseFrames = 0;
    let recovering: Promise<void> | undefined;
    for await (const frame of source.frames({ fps: 0, signal: controller.signal })) {
      expect([frame.width, frame.height, frame.encoding]).toEqual([768, 576, 1]);
      const time = sourceTimeOf(frame.payload)!;
      expect(Math.abs(time - Date.now())).toBeLessThan(60_000); // epoch ms of arrival
      times.push(time);
      phaseFrames++;
      if (phase === 'first' && phaseFrames === 8) {
        // Drop: the server dies (a new one comes up on the same address).
        await server.current.kill();
        phase = 'after-drop';
        phaseFrames = 0;
      } else if (phase === 'after-drop' && phaseFrames >= 8 && (await reconnects()) > before.reconnects) {
        // Stall: the server freezes with the connection open; once the stall is counted it is replaced.
        const frozen = server.current;
        frozen.process.kill('SIGSTOP');
        recovering = until(
          async () => (await errors('stall')) > before.stalls,
          'the stall to be detected',
        ).then(() => frozen.kill());
        phase = 'after-stall';
        phaseFrames = 0;
      } else if (phase === 'after-stall' && phaseFrames >= 5 && recovering) {
        await recovering;
        if ((await reconnects()) >= before.reconnects + 2) break;
      }
    }
    controller.abort();
    expect(await errors('failed')).toBeGreaterThan(before.drops);
    expect(await errors('stall')).toBeGreaterThan(before.stalls);
    expect(await reconnects()).toBeGreaterThanOrEqual(before.reconnects + 2);
    // Times never go backwards across reconnections.
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
  }, 180_000);

  it('RTSP: a camera pushing H.264 to the listening source; frames decoded at the requested rate', async () => {
    const port = await freePort();
    const clip = await vtestClip(await tempDir(), 60);
    const source = await openSource(`rtsp://127.0.0.1:${port}/live`, {
      video: { stallTimeoutSeconds: 20, rtspListen: true },
    });
    const controller = new AbortController();
    const frames = source.frames({ fps: 5, count: 10, signal: controller.signal });
    const first = frames.next();
    await waitForListening(port);
    publishers.push(pushRtsp(clip, port));
    const got = [(await first).value!];
    for await (const frame of frames) got.push(frame);
    expect(got).toHaveLength(10);
    const times = got.map((f) => f.sourceTimeMs!);
    // At most 5 frames per second of stream time: one per 200 ms interval, so 10 frames span > 8 intervals.
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
    expect(times[9]! - times[0]!).toBeGreaterThan(1600);
    expect(got.every((f) => f.width === 768 && f.height === 576)).toBe(true);
  });
});
