/**
 * A hostile or broken camera: a body far over the cap (streamed, no length), a declared 600 MB answer,
 * a body that drips, garbage bytes. Each is cut off or refused, counted by reason, and the stream server
 * goes on: a session started afterwards receives the camera's real JPEGs.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../../src/common/metrics.js';
import { decodeFrame } from '../../../src/common/wire/header.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { CameraPollError, pollCamera } from '../../../src/stream/sources/camera.js';
import { ControlClient, tempDir } from '../stream/helpers.js';

const PHOTO = path.resolve('tests/fixtures/photos/imagehash/forest/forest-high.jpg');
const CAP = 1024 * 1024;

type Mode = 'ok' | 'huge-stream' | 'huge-declared' | 'drip' | 'garbage';

/** A loopback camera; `written` counts the body bytes it managed to hand to the socket for the last request. */
async function startCamera() {
  const photo = await readFile(PHOTO);
  const state = { modes: [] as Mode[], mode: 'ok' as Mode, written: 0, closedEarly: false };
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const mode = state.modes.shift() ?? state.mode;
    state.written = 0;
    state.closedEarly = false;
    open.add(res);
    res.on('close', () => {
      open.delete(res);
      if (!res.writableFinished) state.closedEarly = true;
    });
    const chunk = Buffer.alloc(64 * 1024, 0xff);
    switch (mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': photo.length }).end(photo);
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.from('GIF89a not a jpeg at all'));
        return;
      case 'huge-declared':
        // Announces 600 MB, sends the JPEG magic and then waits: the client must not wait to read it.
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 600 * 1024 * 1024 });
        res.write(Buffer.from([0xff, 0xd8, 0xff]));
        return;
      case 'drip': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const timer = setInterval(() => res.write(Buffer.from([0xff])), 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'huge-stream': {
        // 200 MB without a length, written as fast as the socket takes it.
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const pump = (): void => {
          while (state.written < 200 * 1024 * 1024 && !res.destroyed) {
            state.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/snapshot.jpg`,
    state,
    photo,
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function cameraErrors(reason: string): Promise<number> {
  const m = await metricsRegistry.getSingleMetric('framesift_camera_errors_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const poll = (url: string, timeoutMs = 2000) =>
  pollCamera(url, undefined, timeoutMs, new AbortController().signal, CAP).then(
    () => 'ok',
    (err: unknown) => (err instanceof CameraPollError ? err.reason : `unexpected: ${String(err)}`),
  );

describe('camera answers are bounded', () => {
  it('cuts off a 200 MB body at the cap instead of reading it', async () => {
    const camera = await startCamera();
    cleanup.push(camera.close);
    camera.state.modes = ['huge-stream'];
    expect(await poll(camera.url)).toBe('too-large');
    // The camera was stopped long before 200 MB: what it wrote is the cap plus socket buffers.
    await expect.poll(() => camera.state.closedEarly).toBe(true);
    expect(camera.state.written).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses a declared 600 MB answer without reading it', async () => {
    const camera = await startCamera();
    cleanup.push(camera.close);
    camera.state.modes = ['huge-declared'];
    expect(await poll(camera.url)).toBe('too-large');
  });

  it('a dripping body times out; garbage is not-image', async () => {
    const camera = await startCamera();
    cleanup.push(camera.close);
    camera.state.modes = ['drip', 'garbage'];
    expect(await poll(camera.url, 300)).toBe('timeout');
    expect(await poll(camera.url)).toBe('not-image');
    expect(await poll(camera.url)).toBe('ok');
  });

  it('through the stream server: huge, dripping and garbage answers are counted, the session streams real JPEGs after', async () => {
    const camera = await startCamera();
    cleanup.push(camera.close);
    camera.state.modes = ['huge-stream', 'huge-declared', 'drip', 'garbage'];
    const before = { large: await cameraErrors('too-large'), timeout: await cameraErrors('timeout') };
    const server: StreamServer = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      source: 'camera',
      resultsDir: await tempDir('framesift-camera-results-'),
      camera: { address: camera.url, timeoutSeconds: 0.5, imagesPerSecond: 50, maxBytes: CAP },
    });
    cleanup.push(() => server.close());
    const control = await ControlClient.connect(server);
    cleanup.push(async () => control.socket.close());
    control.send({ type: 'start', count: 2, fps: 0 });
    const session = await control.next((m) => m.type === 'session');
    const frames: Buffer[] = [];
    const socket = new WebSocket(session.framesUrl as string);
    socket.on('message', (data: Buffer) => frames.push(data));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const end = await control.next((m) => m.type === 'end');
    expect(end.sent).toBe(2);
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      const frame = decodeFrame(new Uint8Array(f));
      expect(frame.header.encoding).toBe(1);
      expect(Buffer.from(frame.payload)).toEqual(camera.photo);
    }
    expect(await cameraErrors('too-large')).toBe(before.large + 2);
    expect(await cameraErrors('timeout')).toBe(before.timeout + 1);
  });
});
