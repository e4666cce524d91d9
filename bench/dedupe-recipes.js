// Embedding recipes compared for the cnn method: which view(s) of a photo go through MobileNetV3-Small and
// how their embeddings combine. Every view is a 224×224 sRGB image made by sharp from the decoded photo;
// embeddings are cached per set and view (in memory), so combining views costs no inference.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import * as images from '../dist/analysis/tasks/images.js';
import { l2Normalize } from '../dist/dedupe/index.js';

const S = 224;

/** Upright sRGB decode of a file as raw HWC (one decode per file; views are cut from it). */
async function decode(file) {
  const bytes = await readFile(file);
  const netpbm = images.decodeNetpbm(bytes);
  const img = netpbm
    ? sharp(netpbm.raw, { raw: { width: netpbm.width, height: netpbm.height, channels: netpbm.channels } })
    : sharp(bytes, { failOn: 'error' }).rotate();
  // Views are at most 256 px: decode at most 512 px (JPEG shrink-on-load) to keep the comparison fast.
  const { data, info } = await img
    .resize(512, 512, { fit: 'inside', withoutEnlargement: true, kernel: 'linear' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

const rawOf = (d) => sharp(d.data, { raw: { width: d.width, height: d.height, channels: d.channels } });

async function toRgb(pipeline) {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return data;
  const rgb = new Uint8Array(S * S * 3);
  for (let p = 0; p < S * S; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data[p * info.channels];
  return rgb;
}

/** Rotates portrait images a quarter turn so every image is embedded landscape (rot90 copies line up to 0/180°). */
function canonical(d) {
  const img = rawOf(d);
  return d.height > d.width ? img.rotate(90) : img;
}

async function rotatedRaw(d) {
  const { data, info } = await canonical(d).raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

/** View makers: decoded image → 224×224 RGB. */
export const VIEWS = {
  crop: (d) => {
    const scale = 256 / Math.min(d.width, d.height);
    const w = Math.max(S, Math.round(d.width * scale));
    const h = Math.max(S, Math.round(d.height * scale));
    return toRgb(
      rawOf(d)
        .resize(w, h, { fit: 'fill', kernel: 'linear' })
        .extract({ left: Math.floor((w - S) / 2), top: Math.floor((h - S) / 2), width: S, height: S }),
    );
  },
  fill: (d) => toRgb(rawOf(d).resize(S, S, { fit: 'fill', kernel: 'linear' })),
  pad: (d) =>
    toRgb(rawOf(d).resize(S, S, { fit: 'contain', kernel: 'linear', background: { r: 0, g: 0, b: 0 } })),
  fillGray: (d) => toRgb(rawOf(d).resize(S, S, { fit: 'fill', kernel: 'linear' }).greyscale()),
  fillFlip: (d) => toRgb(rawOf(d).resize(S, S, { fit: 'fill', kernel: 'linear' }).flop()),
  fillGrayFlip: (d) => toRgb(rawOf(d).resize(S, S, { fit: 'fill', kernel: 'linear' }).greyscale().flop()),
};
// One sharp pipeline applies its rotation after the resize; the canonical view is rotated first, in a
// pass of its own.
VIEWS.canon = async (d) =>
  toRgb(
    (await rotatedRaw(d)).resize(S, S, {
      fit: 'fill',
      kernel: 'linear',
    }),
  );
VIEWS.canonGray = async (d) =>
  toRgb((await rotatedRaw(d)).resize(S, S, { fit: 'fill', kernel: 'linear' }).greyscale());

/** Embeddings of every readable file of `set` for each view in `views`: Map<view, Map<file, Float32Array>>. */
export async function viewEmbeddings(set, views, session) {
  const out = new Map(views.map((v) => [v, new Map()]));
  if (views.includes('canon')) out.set('layout', new Map());
  const pending = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const n = pending.length;
    const input = new Float32Array(n * 3 * S * S);
    pending.forEach((p, i) => images.rgbToChw(p.pixels, input, i * 3 * S * S, S * S));
    const res = await session.run({ input: new ort.Tensor('float32', input, [n, 3, S, S]) });
    const dim = res.embedding.dims[1];
    pending.forEach((p, i) =>
      out.get(p.view).set(p.file, new Float32Array(res.embedding.data.slice(i * dim, (i + 1) * dim))),
    );
    pending.length = 0;
  };
  for (const file of set.files) {
    let d;
    try {
      d = await decode(path.join(set.dir, file));
    } catch {
      continue;
    }
    for (const v of views) {
      const pixels = await VIEWS[v](d);
      // The shipped layout thumbnail, of the landscape whole-frame view.
      if (v === 'canon') out.get('layout')?.set(file, images.layoutThumbnail(pixels));
      pending.push({ file, view: v, pixels });
      if (pending.length === 16) await flush();
    }
  }
  await flush();
  return out;
}

/** A recipe: the views it embeds and how they combine into one feature vector. */
export const RECIPES = {
  'crop (old default)': { views: ['crop'], combine: 'one' },
  fill: { views: ['fill'], combine: 'one' },
  pad: { views: ['pad'], combine: 'one' },
  'fill gray': { views: ['fillGray'], combine: 'one' },
  'fill + gray (concat)': { views: ['fill', 'fillGray'], combine: 'concat' },
  'fill + gray (mean)': { views: ['fill', 'fillGray'], combine: 'mean' },
  'fill + flip (mean)': { views: ['fill', 'fillFlip'], combine: 'mean' },
  'gray + gray flip (mean)': { views: ['fillGray', 'fillGrayFlip'], combine: 'mean' },
  'canonical orientation': { views: ['canon'], combine: 'one' },
  'canonical gray': { views: ['canonGray'], combine: 'one' },
  'canonical + layout, one vector (1:1)': { views: ['canon'], combine: 'one', layout: 'fused' },
  'canonical + layout as a second rule (the default)': { views: ['canon'], combine: 'one', layout: 'or' },
};

/** The recipe's store feature of one file: its combined vector, with the layout rule when it has one. */
export function recipeStoreFeature(recipe, byView, file) {
  const vector = recipeFeature(recipe, byView, file);
  if (!vector) return undefined;
  const layout = byView.get('layout')?.get(file);
  if (recipe.layout === 'or') return { kind: 'embedding', vector, layout };
  if (recipe.layout === 'fused') {
    const out = new Float32Array(vector.length + layout.length);
    const unit = l2Normalize(vector);
    for (let i = 0; i < unit.length; i++) out[i] = unit[i] * Math.SQRT1_2;
    for (let i = 0; i < layout.length; i++) out[unit.length + i] = layout[i] * Math.SQRT1_2;
    return { kind: 'embedding', vector: out };
  }
  return { kind: 'embedding', vector };
}

/** Combines the cached view embeddings of one file into the recipe's feature (unit length per view). */
export function recipeFeature(recipe, byView, file) {
  const parts = recipe.views.map((v) => byView.get(v)?.get(file));
  if (parts.some((p) => !p)) return undefined;
  const unit = parts.map(l2Normalize);
  if (recipe.combine === 'one') return unit[0];
  if (recipe.combine === 'mean') {
    const out = new Float32Array(unit[0].length);
    for (const u of unit) for (let i = 0; i < u.length; i++) out[i] += u[i] / unit.length;
    return out;
  }
  const out = new Float32Array(unit.reduce((n, u) => n + u.length, 0));
  let o = 0;
  for (const u of unit) {
    out.set(u, o);
    o += u.length;
  }
  return out;
}

/**
 * Every recipe at its best threshold under the cnn selection rule (precision ≥ 0.99 on pimmi,
 * caltech-resize, generated and imagehash; the highest lowest F1 over pimmi, caltech-resize and
 * generated): one row per recipe and set, with the generated set's recall per transform in `notes`.
 */
export async function compareRecipes(sets, session, score, notes) {
  const views = [...new Set(Object.values(RECIPES).flatMap((r) => r.views))];
  const byViewOf = new Map();
  for (const set of sets) byViewOf.set(set.name, await viewEmbeddings(set, views, session));
  const thresholds = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5];
  const rows = [];
  for (const [name, recipe] of Object.entries(RECIPES)) {
    const featuresOf = new Map();
    for (const set of sets) {
      const features = new Map();
      for (const f of set.files) {
        const feature = recipeStoreFeature(recipe, byViewOf.get(set.name), f);
        if (feature) features.set(f, feature);
      }
      featuresOf.set(set.name, features);
    }
    let best;
    for (const t of thresholds) {
      const scores = new Map(sets.map((set) => [set.name, score(set, featuresOf.get(set.name), t)]));
      const held = ['pimmi', 'caltech-resize', 'generated', 'imagehash'].filter((n) => scores.has(n));
      if (held.some((n) => scores.get(n).precision < 0.99)) continue;
      const value = Math.min(
        ...['pimmi', 'caltech-resize', 'generated'].filter((n) => scores.has(n)).map((n) => scores.get(n).f1),
      );
      if (!best || value > best.value) best = { t, value, scores };
    }
    if (!best) {
      notes.push(`recipe ${name}: no threshold keeps precision ≥ 0.99`);
      continue;
    }
    for (const [set, s] of best.scores)
      rows.push({ recipe: name, threshold: best.t, set, precision: s.precision, recall: s.recall, f1: s.f1 });
    const generated = sets.find((s) => s.transformOf);
    if (generated && best.scores.get('generated')?.transforms)
      notes.push(
        `recipe ${name} at ${best.t}, generated recall per transform: ${best.scores.get('generated').transforms}`,
      );
  }
  return rows;
}
