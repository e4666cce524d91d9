/**
 * The app over a camera that fails: a loopback HTTP camera returns real JPEG photos, then HTTP 500s,
 * then photos again. The page shows the camera's state and error count while it fails, the session keeps
 * streaming, and frames resume when the camera recovers.
 */
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/commands/app.js';
import { resolveConfig } from '../../src/common/config.js';
import { SLOW, chromiumMissing, launchBrowser, skipReason } from './helpers.js';

const FOREST = path.resolve('tests/fixtures/photos/imagehash/forest');

let dir: string;
let camera: http.Server | undefined;
const cameraState = { failing: false, requests: 0 };
let app: RunningApp | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (chromiumMissing) return;
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-app-camera-'));
  const photos = await Promise.all((await readdir(FOREST)).sort().map((f) => readFile(path.join(FOREST, f))));
  camera = http.createServer((_req, res) => {
    cameraState.requests++;
    if (cameraState.failing) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('camera failure');
      return;
    }
    const photo = photos[cameraState.requests % photos.length]!;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': photo.length }).end(photo);
  });
  await new Promise<void>((resolve) => camera!.listen(0, '127.0.0.1', resolve));
  const port = (camera.address() as AddressInfo).port;
  app = await startApp(
    resolveConfig(
      'app',
      {
        source: 'camera',
        cameraAddress: `http://127.0.0.1:${port}/snapshot.jpg`,
        framesPort: 0,
        controlPort: 0,
        metricsPort: 0,
        out: path.join(dir, 'out'),
        resultsDir: path.join(dir, 'server'),
        workers: 1,
        batchSize: 1,
        imagesPerSecond: 5,
        method: 'phash',
      },
      {},
    ),
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  camera?.closeAllConnections();
  await new Promise<void>((resolve) => (camera ? camera.close(() => resolve()) : resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(chromiumMissing)(`the live app with a failing camera ${skipReason}`, () => {
  it('shows the camera state and error count, keeps streaming, and resumes when the camera recovers', async () => {
    const page = await browser!.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(app!.url);
    const processed = async () =>
      Number((await page.locator('#count-processed').textContent())!.replace(/,/g, ''));
    await expect.poll(processed, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => page.locator('#camera').isVisible(), { timeout: SLOW }).toBe(true);
    await expect.poll(() => page.locator('#camera-state').textContent(), { timeout: SLOW }).toBe('ok');
    expect(await page.locator('#camera-errors').textContent()).toBe('0');

    cameraState.failing = true;
    await expect
      .poll(() => page.locator('#camera-state').textContent(), { timeout: 30_000 })
      .toMatch(/^failing/);
    await expect
      .poll(async () => Number(await page.locator('#camera-errors').textContent()), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await page.locator('#camera-error').textContent()).toContain('HTTP 500');
    expect(await page.locator('#run-state').textContent()).toBe('streaming');

    const before = await processed();
    cameraState.failing = false;
    await expect.poll(() => page.locator('#camera-state').textContent(), { timeout: 30_000 }).toBe('ok');
    await expect.poll(processed, { timeout: 30_000 }).toBeGreaterThan(before);
    expect(await page.locator('#run-state').textContent()).toBe('streaming');
    await page.close();
  });
});
