/**
 * Save as video from the page, in Debian's chromium: `framesift app` over the caltech-resize photos (17
 * groups of resized/rotated/cropped copies, mixed sizes), the operator picks "video" and saves under an
 * order number. The folder holds one video that ffprobe reads as VIDEO_CODEC's codec with exactly the
 * kept frames, and a manifest listing those frames in order; the page shows the folder and links to the
 * video and the folder's contents. An app whose ffmpeg is missing shows the video choice disabled with
 * the reason.
 */
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/commands/app.js';
import { resolveConfig, type AppConfig } from '../../src/common/config.js';
import type { FramesManifest } from '../../src/dedupe/frames-save.js';
import { ffprobeVideo, skipVideoTests } from '../helpers/video.js';
import { SLOW, chromiumMissing, launchBrowser, skipReason } from './helpers.js';

const CALTECH = path.resolve('tests/fixtures/photos/caltech-resize');
const skip = chromiumMissing || skipVideoTests();

let dir: string;
let frames: string;
let browser: Browser | undefined;
const apps: RunningApp[] = [];

beforeAll(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-app-video-'));
  frames = path.join(dir, 'frames');
  await mkdir(frames);
  const truth = JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as {
    groups: string[][];
  };
  let n = 0;
  for (const group of truth.groups)
    for (const file of group)
      await copyFile(path.join(CALTECH, file), path.join(frames, `${String(n++).padStart(4, '0')}.jpg`));
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  for (const app of apps) await app.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function start(name: string, flags: Partial<Record<keyof AppConfig, unknown>> = {}): Promise<RunningApp> {
  return startApp(
    resolveConfig(
      'app',
      {
        source: frames,
        framesPort: 0,
        controlPort: 0,
        metricsPort: 0,
        out: path.join(dir, name, 'out'),
        resultsDir: path.join(dir, name, 'server'),
        workers: 1,
        batchSize: 4,
        imagesPerSecond: 23,
        method: 'phash',
        ...flags,
      },
      { MODELS_DIR: process.env.MODELS_DIR ?? 'models' },
    ),
  ).then((app) => (apps.push(app), app));
}

describe.skipIf(skip)(`save as video from the page ${skipReason}`, () => {
  it('writes one video of the kept frames (ffprobe: codec, frame count) and a manifest listing them', async () => {
    const app = await start('h264');
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(app.url);
    const video = page.locator('input[name="saveas"][value="video"]');
    await expect.poll(() => video.isEnabled(), { timeout: SLOW }).toBe(true);
    await expect(page.locator('#video-codec').textContent()).resolves.toBe(' (h264)');
    await expect.poll(() => page.locator('#run-state').textContent(), { timeout: 120_000 }).toBe('ended');
    const kept = app.page.deduper!.uniques();
    expect(kept.length).toBeGreaterThan(1);

    await video.check();
    await page.locator('#order').fill('4711-video');
    await page.locator('#save').click();
    await expect
      .poll(() => page.locator('#save-message').textContent(), { timeout: 60_000 })
      .toContain('Saved a video');
    const message = (await page.locator('#save-message').textContent())!;
    const folder = path.join(dir, 'h264', 'out', 'uniques', '4711-video');
    expect(message).toContain(`Saved a video of ${kept.length} frames`);
    expect(message).toContain(folder);

    // On disk: the video and the manifest, nothing else.
    expect((await readdir(folder)).sort()).toEqual(['4711-video.mp4', 'manifest.json']);
    const probed = ffprobeVideo(path.join(folder, '4711-video.mp4'));
    expect(probed.codec).toBe('h264');
    expect(probed.frames).toBe(kept.length);
    expect(probed.pixFmt).toBe('yuv420p');
    const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as FramesManifest;
    expect(manifest).toMatchObject({ saveAs: 'video', frames: 'kept', name: '4711-video' });
    expect(manifest.video).toMatchObject({ file: '4711-video.mp4', codec: 'h264', frames: kept.length });
    expect(manifest.counts).toEqual({ frames: kept.length, uniques: kept.length, duplicates: 0 });
    const keptSeqs = kept.map((u) => u.seq).sort((a, b) => a - b);
    expect(manifest.items.map((i) => i.seq)).toEqual(keptSeqs);
    expect(manifest.items.every((i) => i.unique && i.videoTimeMs === Math.round((i.index * 1000) / 10))).toBe(
      true,
    );

    // The page's links: the video itself (served as video/mp4, the bytes on disk) and the folder listing.
    const href = await page.locator('#save-message a', { hasText: 'play the video' }).getAttribute('href');
    const served = await fetch(new URL(href!, app.url));
    expect(served.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await served.arrayBuffer())).toEqual(
      await readFile(path.join(folder, '4711-video.mp4')),
    );
    const listing = await context.newPage();
    await listing.goto(
      new URL(
        (await page.locator('#save-message a', { hasText: 'open its contents' }).getAttribute('href'))!,
        app.url,
      ).toString(),
    );
    await expect(listing.locator('body').textContent()).resolves.toContain(
      `a video of ${kept.length} frames`,
    );
    await listing.close();
    await expect
      .poll(() => page.locator('#saves li').textContent())
      .toContain(`video of ${kept.length} frames`);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an app whose ffmpeg is missing shows the video choice disabled, with the reason', async () => {
    const app = await start('no-ffmpeg', { ffmpegPath: path.join(dir, 'no-such-ffmpeg') });
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(app.url);
    await expect
      .poll(() => page.locator('#video-note').textContent(), { timeout: SLOW })
      .toContain('no-such-ffmpeg');
    await expect(page.locator('input[name="saveas"][value="video"]').isDisabled()).resolves.toBe(true);
    await expect(page.locator('input[name="saveas"][value="images"]').isChecked()).resolves.toBe(true);
    await context.close();
  });
});
