/**
 * The batch dedupe report: `report.json` (the machine-readable outcome, exactly the documented shape),
 * `report.md` (counts, a contact sheet of the kept images, the closest calls side by side) and the PNGs
 * it shows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { fitText, svgText } from '../common/font-text.js';
import type { BatchOutcome, CloseCall } from './batch.js';
import { THRESHOLD_MEANING } from './methods.js';

export interface BatchReportJson {
  method: string;
  threshold: number;
  metric: string | null;
  model: string | null;
  groups: {
    kept: string;
    /** `keypoints`: set when the keypoint check made the file a duplicate (distance above the threshold). */
    duplicates: { file: string; distance: number; keypoints?: { inliers: number; ncc: number } }[];
  }[];
  corrupt: string[];
  /** Inputs not deduplicated and why (links followed once, unreadable folders, names, output folders). */
  skipped: { file: string; reason: string }[];
  counts: { files: number; kept: number; duplicates: number; corrupt: number; skipped: number };
  /**
   * The keypoint check (docs/dedupe.md): pairs compared, files it made duplicates (counted in
   * counts.duplicates too), and files whose image gave no features; null when it was off or not built.
   */
  keypoints: { checks: number; joined: number; unreadable: number } | null;
}

export function reportJson(outcome: BatchOutcome): BatchReportJson {
  const duplicates = outcome.groups.reduce((t, g) => t + g.duplicates.length, 0);
  return {
    method: outcome.method,
    threshold: outcome.threshold,
    metric: outcome.metric,
    model: outcome.model,
    groups: outcome.groups.map((g) => ({
      kept: g.kept,
      duplicates: g.duplicates.map((d) => ({
        file: d.file,
        distance: round(d.distance),
        ...(d.keypoints ? { keypoints: { inliers: d.keypoints.inliers, ncc: round(d.keypoints.ncc) } } : {}),
      })),
    })),
    corrupt: outcome.corrupt,
    skipped: outcome.skipped,
    counts: {
      files: outcome.files,
      kept: outcome.groups.length,
      duplicates,
      corrupt: outcome.corrupt.length,
      skipped: outcome.skipped.length,
    },
    keypoints: outcome.keypoints,
  };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

const TILE = 128;
const MAX_SHEET_TILES = 400;
/** Height of the file-name line under each tile of the contact sheet. */
const CAPTION = 16;

/** A transparent SVG layer of `width`×`height` holding `body` (text drawn with the shipped font). */
function svgLayer(width: number, height: number, body: string): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`,
  );
}

/** A square tile of an image, letterboxed on gray; a gray tile if it cannot be read. */
async function tile(file: string, size: number): Promise<Buffer> {
  try {
    return await sharp(file, { failOn: 'error' })
      .rotate()
      .resize(size, size, { fit: 'contain', background: '#404040' })
      .removeAlpha()
      .toColourspace('srgb')
      .png()
      .toBuffer();
  } catch {
    return sharp({ create: { width: size, height: size, channels: 3, background: '#400000' } })
      .png()
      .toBuffer();
  }
}

async function contactSheet(dir: string, files: string[], target: string): Promise<void> {
  const shown = files.slice(0, MAX_SHEET_TILES);
  const columns = Math.min(10, Math.max(1, shown.length));
  const rows = Math.max(1, Math.ceil(shown.length / columns));
  const gap = 4;
  const tiles = await Promise.all(shown.map((f) => tile(path.join(dir, f), TILE)));
  const width = columns * (TILE + gap) + gap;
  const height = rows * (TILE + CAPTION + gap) + gap;
  const at = (i: number) => ({
    left: gap + (i % columns) * (TILE + gap),
    top: gap + Math.floor(i / columns) * (TILE + CAPTION + gap),
  });
  // Each tile's file name (its last path part) under it.
  const captions = shown
    .map((file, i) => {
      const { left, top } = at(i);
      const name = fitText(path.basename(file), TILE - 4, 10);
      return svgText(name, left + 2, top + TILE + 12, { size: 10, fill: '#e0e0e0' });
    })
    .join('');
  await sharp({ create: { width, height, channels: 3, background: '#202020' } })
    .composite([
      ...tiles.map((input, i) => ({ input, ...at(i) })),
      { input: svgLayer(width, height, captions), left: 0, top: 0 },
    ])
    .png()
    .toFile(target);
}

async function pairImage(dir: string, call: CloseCall, target: string): Promise<void> {
  const size = 240;
  const [a, b] = await Promise.all([
    tile(path.join(dir, call.other), size),
    tile(path.join(dir, call.file), size),
  ]);
  // Green frame: kept as duplicate; orange: kept as a new unique.
  const background = call.duplicate ? '#2e7d32' : '#ef6c00';
  const width = 2 * size + 18;
  const band = 22;
  const verdict = `distance ${round(call.distance)}: ${call.duplicate ? 'duplicate' : 'new unique'}`;
  const text = svgText(fitText(verdict, width - 12, 13, true), width / 2, size + 12 + 15, {
    size: 13,
    bold: true,
    anchor: 'middle',
    fill: '#ffffff',
  });
  await sharp({ create: { width, height: size + 12 + band, channels: 3, background } })
    .composite([
      { input: a, left: 6, top: 6 },
      { input: b, left: size + 12, top: 6 },
      { input: svgLayer(width, size + 12 + band, text), left: 0, top: 0 },
    ])
    .png()
    .toFile(target);
}

const md = (s: string) => s.replace(/([|\\`*_[\]])/g, '\\$1');

/** Writes report.json, report.md, contact-sheet.png and closest-calls/NN.png into `outDir`. */
export async function writeBatchReport(
  outDir: string,
  dir: string,
  outcome: BatchOutcome,
  descriptions?: Map<string, string>,
): Promise<BatchReportJson> {
  await mkdir(outDir, { recursive: true });
  const json = reportJson(outcome);
  await writeFile(path.join(outDir, 'report.json'), JSON.stringify(json, null, 1) + '\n');

  await contactSheet(
    dir,
    outcome.groups.map((g) => g.kept),
    path.join(outDir, 'contact-sheet.png'),
  );
  const callsDir = path.join(outDir, 'closest-calls');
  await mkdir(callsDir, { recursive: true });
  const lines: string[] = [
    '# framesift dedupe report',
    '',
    `Folder: \`${dir}\``,
    '',
    `Method **${outcome.method}**${outcome.model ? ` (model ${outcome.model}, metric ${outcome.metric})` : ''}, threshold **${outcome.threshold}**: ${THRESHOLD_MEANING[outcome.method]}; a file at or below the threshold from a kept file is a duplicate.`,
    '',
    '| files | kept | duplicates | corrupt | not taken |',
    '|---|---|---|---|---|',
    `| ${json.counts.files} | ${json.counts.kept} | ${json.counts.duplicates} | ${json.counts.corrupt} | ${json.counts.skipped} |`,
    '',
    outcome.method !== 'cnn'
      ? ''
      : outcome.keypoints
        ? `Keypoint check: ${outcome.keypoints.joined} of the duplicates were found by it (a crop or part of a kept image, beyond the threshold), in ${outcome.keypoints.checks} pairs compared${outcome.keypoints.unreadable ? `; ${outcome.keypoints.unreadable} pairs had an image it could not read` : ''}.`
        : 'Keypoint check: off (the embedding rule alone; heavy crops may be kept as uniques).',
    '',
    '## Kept images',
    '',
    outcome.groups.length > MAX_SHEET_TILES
      ? `The first ${MAX_SHEET_TILES} of ${outcome.groups.length} kept images, in name order:`
      : 'Every kept image, in name order:',
    '',
    '![contact sheet of the kept images](contact-sheet.png)',
    '',
  ];
  if (descriptions && descriptions.size > 0) {
    lines.push(
      'Descriptions (MobileNetV2, top ImageNet class):',
      '',
      '| kept image | description | duplicates |',
      '|---|---|---|',
    );
    for (const g of outcome.groups) {
      lines.push(`| \`${md(g.kept)}\` | ${md(descriptions.get(g.kept) ?? '—')} | ${g.duplicates.length} |`);
    }
    lines.push('');
  }
  if (outcome.corrupt.length > 0) {
    lines.push('## Unreadable files (skipped)', '');
    for (const f of outcome.corrupt)
      lines.push(`- \`${f}\`: ${md(outcome.corruptReasons[f] ?? 'unreadable')}`);
    lines.push('');
  }
  if (outcome.skipped.length > 0) {
    lines.push('## Inputs not taken', '');
    for (const s of outcome.skipped) lines.push(`- \`${md(s.file)}\`: ${md(s.reason)}`);
    lines.push('');
  }
  if (outcome.closeCalls.length > 0) {
    lines.push(
      `## The ${outcome.closeCalls.length} closest calls`,
      '',
      'Decisions whose distance was nearest the threshold. Left: the kept file compared with; right: the file decided. Green frame: duplicate; orange: kept as a new unique.',
      '',
      '| # | file | compared with | distance | decision | pair |',
      '|---|---|---|---|---|---|',
    );
    for (const [i, call] of outcome.closeCalls.entries()) {
      const name = `${String(i + 1).padStart(2, '0')}.png`;
      await pairImage(dir, call, path.join(callsDir, name));
      lines.push(
        `| ${i + 1} | \`${md(call.file)}\` | \`${md(call.other)}\` | ${round(call.distance)} | ${call.duplicate ? 'duplicate' : 'unique'} | ![pair ${i + 1}](closest-calls/${name}) |`,
      );
    }
    lines.push('');
  }
  await writeFile(path.join(outDir, 'report.md'), lines.join('\n'));
  return json;
}
