// The generated near-duplicate benchmark: seeded transformed copies of real base photos from the shared
// data, plus the base photos themselves as hard negatives of each other (distinct photos of the same kind
// of scene: the 16 pimmi holiday photos, the Caltech-101 objects, the UKBench objects, the three office
// photos of imagehash). Base photos are chosen by a rule (the largest member of every ground-truth group,
// every file in no group), never by eye. Written under bench/.generated/ (gitignored) with
// ground_truth.json beside the images; `npm run bench -- dedupe` builds it when it is missing.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { seededRandom } from '../dist/common/random.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const GENERATED_DIR = path.join(root, 'bench', '.generated', 'neardup');
const SEED = 20261130;
/** Bump when the recipe changes: a folder made by another version is rebuilt. */
const VERSION = 1;

export const TRANSFORMS = [
  'gray',
  'crop',
  'rotate',
  'hflip',
  'jpeg30',
  'blur',
  'brightness',
  'half',
  'thumb100',
  'rot90',
];

async function pixelsOf(file) {
  const meta = await sharp(file).metadata();
  return (meta.width ?? 0) * (meta.height ?? 0);
}

/** The largest file of a group (ties: first in name order). */
async function largest(dir, members) {
  let best;
  for (const m of [...members].sort()) {
    const px = await pixelsOf(path.join(dir, m));
    if (!best || px > best.px) best = { file: m, px };
  }
  return best.file;
}

/** Base photos by rule: { id, kind, file (absolute) }. */
export async function chooseBases(dataRoot) {
  const nd = path.join(dataRoot, 'neardup');
  const json = async (p) => JSON.parse(await readFile(path.join(nd, p), 'utf8'));
  const bases = [];
  {
    const dir = path.join(nd, 'pimmi/images');
    const gt = await json('pimmi/ground_truth_groups.json');
    for (const g of gt.groups) {
      if (g.group_id < 0) continue;
      bases.push({
        id: `pimmi-${g.group_id}`,
        kind: 'holiday',
        file: path.join(dir, await largest(dir, g.members)),
      });
    }
  }
  {
    const dir = path.join(nd, 'caltech-resize');
    const gt = await json('caltech-resize/ground_truth.json');
    const grouped = new Set(gt.groups.flat());
    for (const [i, g] of gt.groups.entries())
      bases.push({ id: `caltech-g${i}`, kind: 'object', file: path.join(dir, await largest(dir, g)) });
    const { readdirSync } = await import('node:fs');
    for (const f of readdirSync(dir)
      .filter((f) => /\.jpe?g$/i.test(f) && !grouped.has(f))
      .sort())
      bases.push({ id: `caltech-${f.slice(0, 8)}`, kind: 'object', file: path.join(dir, f) });
  }
  {
    const dir = path.join(nd, 'imagededup-tests/base_images');
    const { readdirSync } = await import('node:fs');
    for (const f of readdirSync(dir).sort())
      bases.push({ id: `ukbench-${f.replace(/\D/g, '')}`, kind: 'object', file: path.join(dir, f) });
  }
  {
    const gt = await json('imagehash/ground_truth.json');
    for (const f of gt.distinct)
      bases.push({
        id: `office-${path.basename(f).slice(10, 16)}`,
        kind: 'office',
        file: path.join(nd, 'imagehash', f),
      });
    bases.push({ id: 'forest', kind: 'landscape', file: path.join(nd, 'imagehash/forest/forest-high.jpg') });
  }
  return bases;
}

/** One transformed copy of `img` (a sharp instance of an upright sRGB image) as JPEG bytes. */
async function transform(name, buf, width, height, rand) {
  const jpeg = (s, quality = 90) => s.jpeg({ quality }).toBuffer();
  const img = () => sharp(buf);
  switch (name) {
    case 'gray':
      return { bytes: await jpeg(img().greyscale()), params: {} };
    case 'crop': {
      const f = 0.1 + 0.1 * rand(); // fraction of each side removed in all
      const w = Math.round(width * (1 - f));
      const h = Math.round(height * (1 - f));
      const left = Math.floor(rand() * (width - w));
      const top = Math.floor(rand() * (height - h));
      return {
        bytes: await jpeg(img().extract({ left, top, width: w, height: h })),
        params: { fraction: +f.toFixed(3), left, top },
      };
    }
    case 'rotate': {
      const deg = (rand() < 0.5 ? -1 : 1) * (1 + 4 * rand()); // 1–5° either way
      const rad = (Math.abs(deg) * Math.PI) / 180;
      // rotate, then keep the largest centred rectangle of the original aspect without filled corners
      const k = 1 / (Math.cos(rad) + Math.max(width / height, height / width) * Math.sin(rad));
      const rotated = await img().rotate(deg, { background: '#000' }).toBuffer({ resolveWithObject: true });
      const w = Math.floor(width * k);
      const h = Math.floor(height * k);
      const left = Math.floor((rotated.info.width - w) / 2);
      const top = Math.floor((rotated.info.height - h) / 2);
      return {
        bytes: await jpeg(sharp(rotated.data).extract({ left, top, width: w, height: h })),
        params: { degrees: +deg.toFixed(2) },
      };
    }
    case 'hflip':
      return { bytes: await jpeg(img().flop()), params: {} };
    case 'jpeg30':
      return { bytes: await jpeg(img(), 30), params: {} };
    case 'blur': {
      const sigma = Math.max(1, Math.min(width, height) / 150);
      return { bytes: await jpeg(img().blur(sigma)), params: { sigma: +sigma.toFixed(2) } };
    }
    case 'brightness': {
      const factor = rand() < 0.5 ? 0.7 : 1.3;
      return { bytes: await jpeg(img().modulate({ brightness: factor })), params: { factor } };
    }
    case 'half':
      return {
        bytes: await jpeg(
          img().resize(Math.round(width / 2), Math.round(height / 2), { kernel: 'lanczos3' }),
        ),
        params: {},
      };
    case 'thumb100':
      return { bytes: await jpeg(img().resize(100, 100, { fit: 'inside' })), params: {} };
    case 'rot90': {
      const degrees = rand() < 0.5 ? 90 : 270;
      return { bytes: await jpeg(img().rotate(degrees)), params: { degrees } };
    }
  }
  throw new Error(`unknown transform ${name}`);
}

/**
 * Builds the benchmark under `dir` (unless a complete one of this version is there) and returns its
 * ground truth: { version, seed, groups: [{ id, kind, source, members }], transformOf: { file: name } }.
 */
export async function ensureGenerated(dataRoot, dir = GENERATED_DIR) {
  const gtFile = path.join(dir, 'ground_truth.json');
  if (existsSync(gtFile)) {
    const gt = JSON.parse(await readFile(gtFile, 'utf8'));
    if (gt.version === VERSION) return gt;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const rand = seededRandom(SEED);
  const groups = [];
  const transformOf = {};
  const params = {};
  for (const base of await chooseBases(dataRoot)) {
    // Upright sRGB original, re-encoded once so every member shares one decode path.
    const { data, info } = await sharp(base.file)
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .toBuffer({ resolveWithObject: true });
    const members = [];
    const original = `${base.id}/original.jpg`;
    await mkdir(path.join(dir, base.id), { recursive: true });
    await sharp(data).jpeg({ quality: 95 }).toFile(path.join(dir, original));
    members.push(original);
    transformOf[original] = 'original';
    for (const t of TRANSFORMS) {
      const out = await transform(t, data, info.width, info.height, rand);
      const name = `${base.id}/${t}.jpg`;
      await writeFile(path.join(dir, name), out.bytes);
      members.push(name);
      transformOf[name] = t;
      params[name] = out.params;
    }
    groups.push({ id: base.id, kind: base.kind, source: path.relative(dataRoot, base.file), members });
  }
  const gt = { version: VERSION, seed: SEED, transforms: TRANSFORMS, groups, transformOf, params };
  await writeFile(gtFile, JSON.stringify(gt, null, 1) + '\n');
  return gt;
}
