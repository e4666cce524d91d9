import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedupeFolder } from '../../../src/commands/dedupe.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { defaultThreshold, scorePartition, type BatchReportJson } from '../../../src/dedupe/index.js';
import { CALTECH, IMAGEDEDUP, MODELS_DIR, optionalModelsOrSkip } from '../../test-data.js';

const run = promisify(execFile);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'framesift-batch-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const config = (out: string, extra: Record<string, unknown> = {}) => ({
  method: 'cnn' as const,
  metric: 'cosine' as const,
  out,
  modelsDir: MODELS_DIR,
  approximateAbove: 20_000,
  imageSaveQuality: 95,
  workers: 2,
  ...extra,
});

describe('framesift dedupe (batch)', () => {
  it('recovers the ground-truth groups of caltech-resize and writes report.json in the documented shape', async () => {
    const out = path.join(tmp, 'caltech');
    const { report } = await dedupeFolder(CALTECH, config(out));
    const onDisk = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as BatchReportJson;
    expect(onDisk).toEqual(report);
    expect(Object.keys(onDisk)).toEqual([
      'method',
      'threshold',
      'metric',
      'model',
      'groups',
      'corrupt',
      'skipped',
      'counts',
      'keypoints',
    ]);
    expect(onDisk).toMatchObject({
      method: 'cnn',
      threshold: defaultThreshold('cnn', 'cosine'),
      metric: 'cosine',
      model: 'mobilenet-v3-small-075',
      corrupt: [],
    });
    expect(onDisk.counts).toEqual({ files: 82, kept: 17, duplicates: 65, corrupt: 0, skipped: 0 });

    const truth = JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as {
      groups: string[][];
    };
    const groupOf = new Map<string, string>();
    truth.groups.forEach((g, i) => g.forEach((f) => groupOf.set(f, `g${i}`)));
    const cellOf = new Map<string, string>();
    for (const g of onDisk.groups) {
      cellOf.set(g.kept, g.kept);
      for (const d of g.duplicates) {
        cellOf.set(d.file, g.kept);
        expect(d.distance).toBeGreaterThanOrEqual(0);
        expect(d.distance).toBeLessThanOrEqual(0.5);
      }
    }
    const score = scorePartition(cellOf, groupOf);
    expect(score.groupsRecovered).toBe(17);
    expect(score.f1).toBe(1);
    // Kept files come in name order: each kept file is the first of its group.
    for (const g of onDisk.groups) for (const d of g.duplicates) expect(d.file > g.kept).toBe(true);

    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('| 82 | 17 | 65 | 0 |');
    expect(md).toContain('contact-sheet.png');
    const sheet = await sharp(path.join(out, 'contact-sheet.png')).metadata();
    expect(sheet.format).toBe('png');
    expect(sheet.width).toBe(10 * 132 + 4);
    expect((await readdir(path.join(out, 'closest-calls'))).length).toBe(20);
  });

  it('--describe names the top ImageNet class of each kept image (optional mobilenet-v2)', async ({
    skip,
  }) => {
    const modelsDir = optionalModelsOrSkip(skip, 'mobilenet_v2_1.0_224-embed.onnx', 'imagenet-classes.txt');
    const out = path.join(tmp, 'caltech-described');
    await dedupeFolder(CALTECH, config(out, { describe: true, modelsDir }));
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    // This Caltech photo is an accordion; 6 copies of it were found.
    expect(md).toMatch(/\| `60183368-a242-4699-b2e9-abc4ae9a8752\.jpg` \| accordion \(\d+%\) \| 6 \|/);
  });

  it('reports corrupt files of imagededup and goes on (CLI, phash)', async () => {
    // The fixture plus a byte-identical copy under another extension.
    const input = path.join(tmp, 'imagededup-input');
    await cp(IMAGEDEDUP, input, { recursive: true });
    await copyFile(
      path.join(input, 'formats_images/ukbench09380.png'),
      path.join(input, 'formats_images/ukbench09380.jpeg'),
    );
    const out = path.join(tmp, 'imagededup');
    const { stdout } = await run(
      process.execPath,
      [path.join(PROJECT_ROOT, 'dist/cli.js'), 'dedupe', input, '--method', 'phash', '--out', out],
      { env: { ...process.env, LOG_LEVEL: 'error' } },
    );
    expect(stdout).toMatch(/dedupe: 12 files → \d+ kept, \d+ duplicates, 1 unreadable/);
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as BatchReportJson;
    expect(report.corrupt).toEqual(['mixed_images/ukbench09268_corrupt.jpg']);
    expect(report.counts.files).toBe(12);
    expect(report.counts.kept + report.counts.duplicates + report.counts.corrupt).toBe(12);
    // Byte-identical copies are always duplicates (distance 0) of the first one in name order; the
    // JPEG under a .png name and the real WebP re-encode are found too.
    const group = report.groups.find((g) => g.kept === 'formats_images/ukbench09380.jpeg')!;
    expect(group.duplicates).toEqual(
      expect.arrayContaining([
        { file: 'formats_images/ukbench09380.png', distance: 0 },
        expect.objectContaining({ file: 'formats_images/ukbench09380.webp' }),
      ]),
    );
    // TIFF and GIF are read, not reported corrupt.
    expect(report.groups.some((g) => g.kept === 'formats_images/copyleft.tiff')).toBe(true);
    expect(report.groups.some((g) => g.kept === 'formats_images/giphy.gif')).toBe(true);
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('Unreadable files (skipped)');
    expect(md).toContain('ukbench09268_corrupt.jpg');

    // --json: the same report as one JSON object on stdout, for scripts.
    const json = await run(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist/cli.js'),
        'dedupe',
        input,
        '--method',
        'phash',
        '--json',
        '--out',
        `${out}-json`,
      ],
      { env: { ...process.env, LOG_LEVEL: 'error' } },
    );
    const printed = JSON.parse(json.stdout) as BatchReportJson & { reportFile: string };
    expect(printed.counts).toEqual(report.counts);
    expect(printed.groups).toEqual(report.groups);
    expect(printed.reportFile).toBe(path.join(`${out}-json`, 'report.md'));
  });

  it('moves duplicates and copies uniques (never deletes), comparing only within --group-by groups', async () => {
    const dir = path.join(tmp, 'cams');
    const truth = JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as {
      groups: string[][];
    };
    // Two "cameras" see the same two scenes: cam1 gets group 0 and 1, cam2 gets group 0 again.
    const [g0, g1] = [truth.groups[0]!, truth.groups[1]!];
    await mkdir(path.join(dir, 'cam1'), { recursive: true });
    await mkdir(path.join(dir, 'cam2'), { recursive: true });
    for (const f of [...g0.slice(0, 3), ...g1.slice(0, 2)])
      await copyFile(path.join(CALTECH, f), path.join(dir, 'cam1', f));
    for (const f of g0.slice(0, 2)) await copyFile(path.join(CALTECH, f), path.join(dir, 'cam2', f));
    const moved = path.join(tmp, 'moved');
    const copied = path.join(tmp, 'copied');
    const { report } = await dedupeFolder(
      dir,
      config(path.join(tmp, 'cams-out'), {
        groupBy: '^(cam\\d)/',
        moveDuplicatesTo: moved,
        copyUniquesTo: copied,
      }),
    );
    // cam2's scene is kept again although cam1 kept it: groups are never compared with each other.
    expect(report.counts).toEqual({ files: 7, kept: 3, duplicates: 4, corrupt: 0, skipped: 0 });
    expect(report.groups.map((g) => g.kept.split('/')[0])).toEqual(['cam1', 'cam1', 'cam2']);
    const exists = (p: string) =>
      stat(p).then(
        () => true,
        () => false,
      );
    for (const g of report.groups) {
      expect(await exists(path.join(dir, g.kept))).toBe(true);
      expect(await exists(path.join(copied, g.kept))).toBe(true);
      for (const d of g.duplicates) {
        expect(await exists(path.join(dir, d.file))).toBe(false);
        expect(await exists(path.join(moved, d.file))).toBe(true);
      }
    }
  });

  it('a missing folder or a bad --group-by is a one-line user error', async () => {
    await expect(dedupeFolder(path.join(tmp, 'nope'), config(path.join(tmp, 'x')))).rejects.toThrow(
      /expected a folder of images/,
    );
    await expect(dedupeFolder(CALTECH, config(path.join(tmp, 'y'), { groupBy: '(' }))).rejects.toThrow(
      /--group-by "\(": expected a regular expression/,
    );
  });
});
