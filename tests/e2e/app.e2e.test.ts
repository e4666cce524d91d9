/**
 * The operator's whole story in a real browser: `framesift app` over a folder of real photos with known
 * near-duplicates: tests/fixtures/photos/caltech-resize (17 groups of resized/rotated/cropped copies, each
 * group's copies in a row), then tests/fixtures/photos/imagehash, whose near-duplicates lie between the
 * app's starting threshold and the slider's maximum (cnn cosine 0.31 and 0.476: e.g. a 270° rotation at
 * 0.47, a similar office photo at 0.44). The test watches the live frame and counts move, raises
 * the threshold with the slider and checks that every later decision used the new value and that those
 * near-duplicates were merged because of it, raises the images per second and sees the received rate
 * follow, saves under an order number and checks the folder and manifest on disk, and checks that a bad
 * order number shows an error and writes nothing.
 */
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/commands/app.js';
import { resolveConfig } from '../../src/common/config.js';
import type { UniquesManifest } from '../../src/dedupe/save.js';
import { SLOW, chromiumMissing, launchBrowser, skipReason } from './helpers.js';

const CALTECH = path.resolve('tests/fixtures/photos/caltech-resize');
const IMAGEHASH = path.resolve('tests/fixtures/photos/imagehash');

let dir: string;
let frames: string;
let out: string;
let app: RunningApp | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (chromiumMissing) return;
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-app-e2e-'));
  frames = path.join(dir, 'frames');
  out = path.join(dir, 'out');
  await mkdir(frames);
  const truth = JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as {
    groups: string[][];
  };
  // Each group's copies in a row, then the imagehash photos (names sort in stream order).
  let n = 0;
  const add = (file: string) => copyFile(file, path.join(frames, `${String(n++).padStart(4, '0')}.jpg`));
  for (const group of truth.groups) for (const file of group) await add(path.join(CALTECH, file));
  for (const sub of ['forest', 'office', 'orientation']) {
    for (const file of (await readdir(path.join(IMAGEHASH, sub))).sort())
      await add(path.join(IMAGEHASH, sub, file));
  }
  app = await startApp(
    resolveConfig(
      'app',
      {
        source: frames,
        framesPort: 0,
        controlPort: 0,
        metricsPort: 0,
        out,
        resultsDir: path.join(dir, 'server'),
        workers: 1,
        batchSize: 4,
        imagesPerSecond: 4,
      },
      { MODELS_DIR: process.env.MODELS_DIR ?? 'models' },
    ),
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const count = async (page: Page, id: string) =>
  Number((await page.locator(`#${id}`).textContent())!.replace(/,/g, ''));

describe.skipIf(chromiumMissing)(`the live app in chromium ${skipReason}`, () => {
  it('watch, tune the threshold and the rate, save under an order number', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(app!.url);
    await expect.poll(() => page.title(), { timeout: SLOW }).toBe('Extract unique images');
    await expect(page.locator('h1').textContent()).resolves.toBe('Extract unique images');
    await expect(page.locator('#order').getAttribute('placeholder')).resolves.toBe(
      'Please enter an order number here',
    );

    // Live: the frame appears and the counts move.
    await expect
      .poll(() => page.locator('#frame').getAttribute('src'), { timeout: 60_000 })
      .toMatch(/^data:image\/jpeg;base64,/);
    await expect.poll(() => count(page, 'count-processed'), { timeout: 60_000 }).toBeGreaterThanOrEqual(6);
    const firstSeq = await page.locator('#frame-seq').textContent();
    await expect.poll(() => page.locator('#frame-seq').textContent(), { timeout: SLOW }).not.toBe(firstSeq);

    // Threshold: the slider to its maximum (keyboard, as an operator would); later decisions use it.
    const before = Number(await page.locator('#threshold').inputValue());
    const max = Number(await page.locator('#threshold').getAttribute('max'));
    expect(max).toBeGreaterThan(before);
    await page.locator('#threshold').focus();
    await page.keyboard.press('End');
    await expect.poll(() => app!.page.deduper!.threshold, { timeout: SLOW }).toBe(max);
    await expect
      .poll(async () => Number(await page.locator('#threshold-value').textContent()), { timeout: SLOW })
      .toBe(max);

    // Images per second: to the maximum; the server's session follows and so does the received rate.
    await page.locator('#rate').focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#rate-value').textContent(), { timeout: SLOW }).toBe('23');
    await expect.poll(() => app!.server.sessions().at(-1)!.fps, { timeout: SLOW }).toBe(23);
    await expect
      .poll(async () => Number(await page.locator('#rate-measured').textContent()), { timeout: 30_000 })
      .toBeGreaterThan(8);

    // The session streams the folder to its end.
    await expect.poll(() => page.locator('#run-state').textContent(), { timeout: 120_000 }).toBe('ended');
    const kept = await count(page, 'count-kept');
    expect(kept).toBe(app!.page.deduper!.status().uniques);
    await expect.poll(() => page.locator('#gallery .tile').count(), { timeout: SLOW }).toBe(kept);

    // A bad order number: a clear message on the page, nothing written.
    const uniquesDir = path.join(out, 'uniques');
    const listing = async () => (await readdir(uniquesDir).catch(() => [])).filter((f) => !f.startsWith('.'));
    await page.locator('#order').fill('../4711');
    await page.locator('#save').click();
    await expect
      .poll(() => page.locator('#save-message').textContent(), { timeout: SLOW })
      .toContain('Not saved');
    await expect(page.locator('#save-message').textContent()).resolves.toContain('save name "../4711"');
    expect(await listing()).toEqual([]);

    // Save under an order number: a new folder with the kept images and the manifest.
    await page.locator('#order').fill('4711');
    await page.locator('#save').click();
    await expect
      .poll(() => page.locator('#save-message').textContent(), { timeout: SLOW })
      .toContain('Saved');
    expect(await listing()).toEqual(['4711']);
    const folder = path.join(uniquesDir, '4711');
    const manifest = JSON.parse(
      await readFile(path.join(folder, 'manifest.json'), 'utf8'),
    ) as UniquesManifest;
    expect(manifest.counts.uniques).toBe(kept);
    expect(manifest.counts.frames).toBe(await count(page, 'count-processed'));
    const images = (await readdir(folder)).filter((f) => f.endsWith('.jpg'));
    expect(images).toHaveLength(kept);
    expect(manifest.maxWidth).toBe(480);
    for (const u of manifest.streams[0]!.uniques) expect(u.width).toBeLessThanOrEqual(480);

    // Every decision used the threshold in force when it was taken: the one change is in the manifest.
    expect(manifest.thresholdChanges).toHaveLength(1);
    const change = manifest.thresholdChanges![0]!;
    expect(change.threshold).toBe(max);
    const stream = manifest.streams[0]!;
    const decisions = [
      ...stream.uniques.map((u) => ({ seq: u.seq!, kept: true, distance: u.nearest })),
      ...stream.duplicates.map((d) => ({ seq: d.seq!, kept: false, distance: d.distance })),
    ].sort((a, b) => a.seq - b.seq);
    expect(change.frames).toBeLessThan(82); // changed while the caltech frames streamed
    let mergedBecauseOfTheChange = 0;
    decisions.forEach((d, i) => {
      const threshold = i < change.frames ? before : max;
      if (d.distance === undefined) return; // the first frame
      if (d.kept) expect(d.distance).toBeGreaterThan(threshold);
      else expect(d.distance).toBeLessThanOrEqual(threshold);
      if (i >= change.frames && !d.kept && d.distance > before) mergedBecauseOfTheChange++;
    });
    // The imagehash near-duplicates between the two thresholds were merged only because of the change.
    expect(mergedBecauseOfTheChange).toBeGreaterThanOrEqual(2);

    // The confirmation links to the folder's contents, served read-only on the same port.
    const link = page.locator('#save-message a');
    const listingPage = await context.newPage();
    await listingPage.goto(new URL((await link.getAttribute('href'))!, app!.url).toString());
    await expect(listingPage.locator('body').textContent()).resolves.toContain('manifest.json');
    await listingPage.close();

    // A second save with the same order number never overwrites: it gets its own folder.
    await page.locator('#save').click();
    await expect
      .poll(() => page.locator('#save-message').textContent(), { timeout: SLOW })
      .toContain('4711_1');
    expect((await listing()).sort()).toEqual(['4711', '4711_1']);
    expect(JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8'))).toEqual(manifest);

    // The large view of a kept image shows the duplicates it absorbed.
    const tile = page.locator('#gallery .tile').last();
    await tile.click();
    await expect
      .poll(() => page.locator('#detail-info').textContent(), { timeout: SLOW })
      .toContain('duplicates absorbed');
    const absorbed = await page.locator('#detail-dups figure').count();
    expect(absorbed).toBeGreaterThan(0);
    await page.locator('#detail button').click();

    // A reload picks the session back up; a second tab watches the same run.
    await page.reload();
    await expect.poll(() => count(page, 'count-kept'), { timeout: SLOW }).toBe(kept);
    await expect.poll(() => page.locator('#gallery .tile').count(), { timeout: SLOW }).toBe(kept);
    const second = await context.newPage();
    await second.goto(app!.url);
    await expect.poll(() => count(second, 'count-kept'), { timeout: SLOW }).toBe(kept);
    await second.close();
    expect(errors).toEqual([]);
    await context.close();
  });
});
