// Takes docs/app.png: the live page mid-session, as the README's command shows it (`framesift app` over
// tests/fixtures/photos/caltech-resize), in Debian's chromium at laptop width. With `--tablet FILE` it also
// writes the same page at tablet width (768 px) to FILE, to look at.
//
//   npm run build && node scripts/screenshot-app.mjs [--tablet /tmp/app-tablet.png]
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../bench/chromium.js';
import sharp from 'sharp';
import { startApp } from '../dist/commands/app.js';
import { resolveConfig } from '../dist/common/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tabletIdx = process.argv.indexOf('--tablet');
const tablet = tabletIdx > 0 ? process.argv[tabletIdx + 1] : undefined;

const dir = await mkdtemp(path.join(tmpdir(), 'framesift-screenshot-'));
const app = await startApp(
  resolveConfig(
    'app',
    {
      source: 'tests/fixtures/photos/caltech-resize',
      framesPort: 0,
      controlPort: 0,
      metricsPort: 0,
      out: path.join(dir, 'out'),
      resultsDir: path.join(dir, 'server'),
      imagesPerSecond: 4,
    },
    process.env,
  ),
);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(app.url);
  await page.locator('#order').fill('4711');
  // Mid-session: enough kept images for two gallery rows and a chart with a history.
  await page.waitForFunction(
    "Number(document.getElementById('count-processed').textContent.replace(/,/g, '')) >= 50",
    undefined,
    { timeout: 120_000 },
  );
  await page.locator('#order').blur();
  // A palette PNG: a third of the bytes of chromium's, no visible change on a flat page.
  const shot = await page.screenshot({ fullPage: true });
  await sharp(shot)
    .png({ palette: true, quality: 90, effort: 10 })
    .toFile(path.join(root, 'docs', 'app.png'));
  if (tablet) {
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.screenshot({ path: tablet, fullPage: true });
  }
} finally {
  await browser.close();
  await app.close();
  await rm(dir, { recursive: true, force: true });
}
