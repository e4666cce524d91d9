/**
 * The default cnn rule (whole frame, landscape orientation, MobileNetV3-Small embedding at the default
 * threshold, plus the layout thumbnail) on the real photos in tests/fixtures, through `framesift dedupe`
 * with every option left at its default: the failure families it was chosen to fix, and the heavy crops
 * the keypoint check finds.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedupeFolder } from '../../../src/commands/dedupe.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { KEYPOINT_SETTINGS, defaultThreshold, type BatchReportJson } from '../../../src/dedupe/index.js';
import { HEAVY_CROPS, writeHeavyCrops } from '../../helpers/heavy-crops.js';

const PHOTOS = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'framesift-default-rule-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const defaults = (out: string) => ({
  method: 'cnn' as const,
  metric: 'cosine' as const,
  out,
  approximateAbove: 20_000,
  imageSaveQuality: 95,
  workers: 2,
});

/** The kept file of every file's cell. */
function cellOf(report: BatchReportJson): Map<string, string> {
  const cells = new Map<string, string>();
  for (const g of report.groups) {
    cells.set(g.kept, g.kept);
    for (const d of g.duplicates) cells.set(d.file, g.kept);
  }
  return cells;
}

describe('the default cnn rule on the fixture photos', () => {
  it('keeps a grayscale copy with its colour original, and the rotated/flipped/resized copies', async () => {
    const dir = path.join(tmp, 'ukbench');
    await cp(path.join(PHOTOS, 'imagededup', 'mixed_images'), dir, { recursive: true });
    await cp(
      path.join(PHOTOS, 'imagededup', 'ukbench00120_gray.jpg'),
      path.join(dir, 'ukbench00120_gray.jpg'),
    );
    const { report } = await dedupeFolder(dir, defaults(path.join(tmp, 'ukbench-out')));
    expect(report.threshold).toBe(defaultThreshold('cnn', 'cosine'));
    const cells = cellOf(report);
    const original = cells.get('ukbench00120.jpg');
    expect(original).toBeDefined();
    for (const copy of ['_gray', '_hflip', '_resize', '_rotation'])
      expect(cells.get(`ukbench00120${copy}.jpg`), copy).toBe(original);
    // a different UKBench object stays apart; the corrupt file is listed, not fatal
    expect(cells.get('ukbench09268.jpg')).toBe('ukbench09268.jpg');
    expect(report.corrupt).toEqual(['ukbench09268_corrupt.jpg']);
  });

  it('keeps the three similar office photos apart and finds every rotation/flip of one of them', async () => {
    const dir = path.join(PHOTOS, 'imagehash');
    const { report } = await dedupeFolder(dir, defaults(path.join(tmp, 'imagehash-out')));
    const cells = cellOf(report);
    const offices = [
      'office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg',
      'office/tumblr_ndyfnr7lk21tubinno1_1280.jpg',
      'office/tumblr_ndyfq386o41tubinno1_1280.jpg',
    ];
    expect(new Set(offices.map((f) => cells.get(f))).size).toBe(3);
    const officeA = cells.get(offices[0]!);
    for (const r of [0, 90, 180, 270])
      for (const f of ['0', 'h', 'v', 'b'])
        expect(cells.get(`orientation/match-r${r}-f${f}.jpg`), `r${r} f${f}`).toBe(officeA);
    // the forest photo's JPEG qualities, crop, watermark and 100-px thumbnail form one group
    const forest = new Set(
      ['copyright', 'cropped', 'high', 'low', 'thumb'].map((v) => cells.get(`forest/forest-${v}.jpg`)),
    );
    expect(forest.size).toBe(1);
    expect(report.counts).toMatchObject({ files: 24, kept: 4, duplicates: 20, corrupt: 0 });
  });

  it('recovers the 17 caltech-resize groups exactly', async () => {
    const dir = path.join(PHOTOS, 'caltech-resize');
    const { report } = await dedupeFolder(dir, defaults(path.join(tmp, 'caltech-out')));
    const { readFile } = await import('node:fs/promises');
    const truth = JSON.parse(await readFile(path.join(dir, 'ground_truth.json'), 'utf8')) as {
      groups: string[][];
    };
    const cells = cellOf(report);
    for (const group of truth.groups) expect(new Set(group.map((f) => cells.get(f))).size, group[0]).toBe(1);
    expect(report.counts.kept).toBe(truth.groups.length);
  });

  it('joins a thin strip and a zoomed-in part to their photo by keypoints, and keeps re-shots of the same room apart', async () => {
    const dir = await writeHeavyCrops(path.join(tmp, 'heavy-crops'));
    const { report } = await dedupeFolder(dir, defaults(path.join(tmp, 'heavy-crops-out')));
    const { original, strip, zoom, others } = HEAVY_CROPS;
    expect(report.groups.map((g) => g.kept)).toEqual([original, ...others]);
    const joined = report.groups[0]!.duplicates;
    expect(joined.map((d) => d.file)).toEqual([strip, zoom]);
    for (const d of joined) {
      // Beyond the embedding's threshold, within the gray zone: found by the check, with its evidence.
      expect(d.distance).toBeGreaterThan(report.threshold);
      expect(d.distance).toBeLessThanOrEqual(KEYPOINT_SETTINGS.upper);
      expect(d.keypoints!.inliers).toBeGreaterThanOrEqual(KEYPOINT_SETTINGS.minInliers);
      expect(d.keypoints!.ncc).toBeGreaterThanOrEqual(KEYPOINT_SETTINGS.minNcc);
    }
    // The re-shots were compared too (they sit in each other's gray zone) and refused.
    expect(report.keypoints).toMatchObject({ joined: 2, unreadable: 0 });
    expect(report.keypoints!.checks).toBeGreaterThan(2);

    const off = await dedupeFolder(dir, { ...defaults(path.join(tmp, 'heavy-crops-off')), keypoints: 'off' });
    expect(off.report.groups.map((g) => g.kept)).toEqual([original, strip, zoom, ...others]);
    expect(off.report.keypoints).toBeNull();
  });
});
