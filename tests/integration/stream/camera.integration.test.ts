import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../../src/common/metrics.js';
import { openCameraSource } from '../../../src/stream/sources/camera.js';
import { openSource } from '../../../src/stream/sources/index.js';
import type { SourceFrame } from '../../../src/stream/sources/source.js';
import { CALTECH, IMAGEHASH } from '../../test-data.js';
import { captureLogs } from '../../helpers/log-capture.js';

// A colour photo first, then a gray one (Caltech 020f816e is grayscale).
const PHOTOS = [
  path.join(IMAGEHASH, 'forest/forest-high.jpg'),
  path.join(CALTECH, '020f816e-0f23-4c14-a8e7-dde8afbc573e.jpg'),
  path.join(CALTECH, '0ad3c3a4-23c4-4efe-a86a-b20a1f53e94e.jpg'),
];

type Mode = 'ok' | 'error500' | 'hang' | 'html';

/** A camera on loopback: answers each GET per the current mode, with real JPEG photos when ok. */
async function startCamera(token: string) {
  const photos = await Promise.all(PHOTOS.map((p) => readFile(p)));
  const state = { mode: 'ok' as Mode, served: 0, requests: 0, authorized: 0 };
  const hanging = new Set<http.ServerResponse>();
  // Tests wait for the camera to have been asked n times (an event, not a timer).
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    state.requests++;
    for (const w of waiters.filter((w) => state.requests >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    if (req.headers.authorization === `Bearer ${token}`) state.authorized++;
    switch (state.mode) {
      case 'ok': {
        const photo = photos[state.served++ % photos.length]!;
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': photo.length });
        res.end(photo);
        return;
      }
      case 'error500':
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('camera failure');
        return;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Login required</body></html>');
        return;
      case 'hang':
        hanging.add(res); // never answered: the client's timeout must fire
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/snapshot.jpg`,
    state,
    photos,
    /** Resolves once the camera has received `n` requests in all. */
    requested(n: number): Promise<void> {
      if (state.requests >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function errorCount(reason: string): Promise<number> {
  const m = await metricsRegistry.getSingleMetric('framesift_camera_errors_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('camera source against a loopback HTTP camera', () => {
  it('polls with the bearer token and yields the real JPEGs with their sizes', async () => {
    const camera = await startCamera('s3cret');
    cleanup = camera.close;
    const source = await openCameraSource({
      address: camera.url,
      token: 's3cret',
      timeoutSeconds: 2,
      imagesPerSecond: 50,
    });
    expect(source.info).toMatchObject({ name: 'camera', selfPaced: true, labelled: false });
    expect(source.info.length).toBeUndefined();
    const frames: SourceFrame[] = [];
    for await (const frame of source.frames({ count: 4, signal: new AbortController().signal }))
      frames.push(frame);
    expect(frames).toHaveLength(4);
    expect(Buffer.from(frames[0]!.payload)).toEqual(camera.photos[0]);
    expect(Buffer.from(frames[3]!.payload)).toEqual(camera.photos[0]);
    expect(frames[0]).toMatchObject({ encoding: 1, channels: 3 });
    expect(frames[1]).toMatchObject({ encoding: 1, channels: 1, width: 310, height: 206 });
    expect(frames[0]!.width).toBeGreaterThan(100);
    expect(camera.state.authorized).toBe(camera.state.requests);
    await source.close();
  });

  it('a failing camera (500s, timeouts, HTML bodies) is counted and retried; frames resume when it recovers', async () => {
    const camera = await startCamera('t');
    cleanup = camera.close;
    const before = {
      http: await errorCount('http'),
      timeout: await errorCount('timeout'),
      notImage: await errorCount('not-image'),
    };
    const source = await openCameraSource({
      address: camera.url,
      token: 't',
      timeoutSeconds: 0.3,
      imagesPerSecond: 40,
    });
    const controller = new AbortController();
    const iterator = source.frames({ signal: controller.signal });
    const first = await iterator.next();
    expect(first.done).toBe(false);

    // Fail in each way in turn while the consumer waits for the next frame, then recover.
    const schedule: Mode[] = ['error500', 'hang', 'html', 'ok'];
    const pending = iterator.next();
    for (const mode of schedule) {
      camera.state.mode = mode;
      if (mode === 'ok') break;
      // Two polls see this failure mode. Polls are sequential, so the second request arrives only after
      // the first one's failure (a hang: its timeout) was counted.
      await camera.requested(camera.state.requests + 2);
    }
    const resumed = await pending;
    expect(resumed.done).toBe(false);
    expect(resumed.value!.encoding).toBe(1);
    expect(await errorCount('http')).toBeGreaterThanOrEqual(before.http + 2);
    expect(await errorCount('timeout')).toBeGreaterThanOrEqual(before.timeout + 1);
    expect(await errorCount('not-image')).toBeGreaterThanOrEqual(before.notImage + 2);
    // And it keeps streaming.
    expect((await iterator.next()).done).toBe(false);
    controller.abort();
    expect((await iterator.next()).done).toBe(true);
  });

  it('an unreachable camera is retried without ending the stream', async () => {
    const camera = await startCamera('x');
    const url = camera.url;
    await camera.close(); // nothing listens on the port any more
    const source = await openCameraSource({ address: url, timeoutSeconds: 0.5, imagesPerSecond: 50 });
    const controller = new AbortController();
    const before = await errorCount('network');
    const logs = captureLogs();
    try {
      const next = source.frames({ signal: controller.signal }).next();
      // Each failed poll is logged as it is counted: wait for two of them.
      await logs.waitFor((e) => e.message === 'camera poll failed; retrying' && e.reason === 'network', 2);
      expect(await errorCount('network')).toBeGreaterThanOrEqual(before + 2);
      controller.abort();
      expect((await next).done).toBe(true);
    } finally {
      logs.stop();
    }
  });

  it('TEST_DATA_FOLDER replays the folder in name order (any case of .jpg/.jpeg/.png) through openSource', async () => {
    const folder = path.join(IMAGEHASH, 'forest');
    const source = await openSource('camera', {
      camera: { testDataFolder: folder, timeoutSeconds: 5, imagesPerSecond: 100 },
    });
    expect(source.info).toMatchObject({ name: 'camera', length: 5, selfPaced: true });
    const files: string[] = [];
    for await (const frame of source.frames({ signal: new AbortController().signal }))
      files.push(frame.file!);
    expect(files).toEqual([
      'forest-copyright.jpg',
      'forest-cropped.jpg',
      'forest-high.jpg',
      'forest-low.jpg',
      'forest-thumb.jpg',
    ]);
  });

  it('needs an address or a replay folder', async () => {
    await expect(openCameraSource({ timeoutSeconds: 5, imagesPerSecond: 5 })).rejects.toThrow(
      /CAMERA_ADDRESS/,
    );
    await expect(
      openCameraSource({
        // sub-folders, ground truth and a licence, but no image at its top level
        testDataFolder: IMAGEHASH,
        timeoutSeconds: 5,
        imagesPerSecond: 5,
      }),
    ).rejects.toThrow(/expected .jpg\/.jpeg\/.png images/);
  });
});
