/**
 * Text in the result images is drawn with the font shipped in fonts/, so it is legible on a machine with no
 * fonts: the renderers run in a child process whose fontconfig sees no font at all (a plain SVG <text> comes
 * out blank or as empty boxes there, which the test checks too, so it cannot pass by accident), and their
 * text regions hold dark glyph pixels, exactly the same as with the machine's fonts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FONTS_DIR, FONT_FILES, fitText, textWidth } from '../../../src/common/font-text.js';
import { IMAGEHASH, REPO_ROOT } from '../../test-data.js';

const run = promisify(execFile);
const dist = (file: string) => pathToFileURL(path.join(REPO_ROOT, 'dist', file)).href;

// Renders a sample card, a bar chart, a dedupe report and a plain SVG <text>; reads each text region (glyph
// pixels: dark on light backgrounds, light on the dedupe report's dark and coloured ones).
const CHILD = `
import sharp from 'sharp';
const { renderSampleCard, renderBarChart } = await import(${JSON.stringify(dist('results/render.js'))});
const { writeBatchReport } = await import(${JSON.stringify(dist('dedupe/index.js'))});
import { createHash } from 'node:crypto';
// The dark pixels of a region and a hash of its pixels.
async function dark(png, region) {
  const { data } = await sharp(png).extract(region).greyscale().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (const v of data) if (v < 100) n++;
  return [n, createHash('sha256').update(data).digest('hex')];
}
const display = await sharp({ create: { width: 168, height: 168, channels: 3, background: '#ffffff' } }).png().toBuffer();
const card = await renderSampleCard(display, { seq: 42, predicted: 'Ankle boot', confidence: 0.9876, truth: 'Sneaker', correct: false });
const chart = await renderBarChart('Predictions per class', [{ name: 'T-shirt/top', count: 12, note: 'mean conf 0.91' }]);
// A dedupe report over two fixture photos: the contact sheet's file names, the closest call's verdict.
const out = process.env.REPORT_DIR;
await writeBatchReport(out, ${JSON.stringify(path.join(IMAGEHASH, 'forest'))}, {
  method: 'phash', threshold: 16, metric: null, model: null, corrupt: [], corruptReasons: {}, files: 2,
  groups: [{ kept: 'forest-high.jpg', duplicates: [] }, { kept: 'forest-thumb.jpg', duplicates: [] }],
  closeCalls: [{ file: 'forest-thumb.jpg', other: 'forest-high.jpg', distance: 20, duplicate: false }],
});
async function light(png, region) {
  const { data } = await sharp(png).extract(region).greyscale().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (const v of data) if (v > 150) n++;
  return [n, createHash('sha256').update(data).digest('hex')];
}
const svgText = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="#fff"/><text x="4" y="28" font-size="18" font-family="DejaVu Sans">Ankle boot</text></svg>');
console.log(JSON.stringify({
  cardBand: await dark(card, { left: 0, top: 168, width: 168, height: 64 }),
  chartTitle: await dark(chart, { left: 0, top: 0, width: 720, height: 34 }),
  chartRow: await dark(chart, { left: 0, top: 44, width: 150, height: 26 }),
  sheetCaptions: await light(out + '/contact-sheet.png', { left: 0, top: 4 + 128, width: 268, height: 16 }),
  callVerdict: await light(out + '/closest-calls/01.png', { left: 0, top: 252, width: 498, height: 22 }),
  systemText: await dark(await sharp(svgText).png().toBuffer(), { left: 0, top: 0, width: 200, height: 40 }),
}));
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-fonts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Region = 'cardBand' | 'chartTitle' | 'chartRow' | 'sheetCaptions' | 'callVerdict' | 'systemText';
type Regions = Record<Region, [pixels: number, sha256: string]>;

async function renderIn(env: NodeJS.ProcessEnv): Promise<Regions> {
  // Evaluated in the repository, so that `sharp` resolves as it does for framesift itself.
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout) as Regions;
}

describe('text in result images', () => {
  it('is drawn from the shipped DejaVu Sans even where the system has no fonts', async () => {
    const noFonts = path.join(dir, 'fonts.conf');
    await writeFile(
      noFonts,
      `<?xml version="1.0"?><fontconfig><cachedir>${path.join(dir, 'cache')}</cachedir></fontconfig>`,
    );
    const [here, bare] = await Promise.all([
      renderIn({ REPORT_DIR: path.join(dir, 'here') }),
      renderIn({ FONTCONFIG_FILE: noFonts, REPORT_DIR: path.join(dir, 'bare') }),
    ]);
    // The control: without fonts, a plain SVG <text> does not come out as it does with them.
    expect(bare.systemText[1]).not.toBe(here.systemText[1]);
    for (const region of ['cardBand', 'chartTitle', 'chartRow', 'sheetCaptions', 'callVerdict'] as const) {
      expect(bare[region][0], region).toBeGreaterThan(100);
      expect(bare[region], region).toEqual(here[region]);
    }
  });

  it('measures with the font: long names are cut to the width, short ones kept', () => {
    expect(Object.values(FONT_FILES).map((f) => path.join(FONTS_DIR, f))).toEqual([
      path.join(REPO_ROOT, 'fonts', 'DejaVuSans.ttf'),
      path.join(REPO_ROOT, 'fonts', 'DejaVuSans-Bold.ttf'),
    ]);
    const long = 'tiger cat, Felis tigris, the long ImageNet name of a cat';
    const cut = fitText(long, 150, 14);
    expect(cut.endsWith('…')).toBe(true);
    expect(textWidth(cut, 14)).toBeLessThanOrEqual(150);
    expect(textWidth(`${cut.slice(0, -1)}${long[cut.length - 1]}…`, 14)).toBeGreaterThan(150);
    expect(fitText('Bag', 150, 14)).toBe('Bag');
    expect(textWidth('WWW', 14, true)).toBeGreaterThan(textWidth('iii', 14, true));
  });
});
