// Region matching for heavy crops (docs/dedupe.md, "Heavy crops: the second round"): each photo also gets
// embeddings of regions of its default view, and a frame is a duplicate of a unique when its whole
// embedding is within `Tr` of one of the unique's regions, or one of its regions within `Tr` of the
// unique's whole embedding — on top of the default rule (embedding 0.40 or layout 0.1). Two ways to get the
// region embeddings:
// - `pooled`: no second inference. The model's last feature map (7×7, 432 channels, before global
//   pooling) is added as a graph output in memory; a region is the mean of the map over a window, sent
//   through the model's own last layer (1×1 conv to 1024 + hard-swish), so it lives in the same space as
//   the embedding.
// - `crops`: one inference per region: the region of the (landscape) photo squeezed to 224×224 like the
//   whole frame, so a thin strip or zoomed crop of a photo meets the same region of its original.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { loadManifest, locateModelFile } from '../dist/analysis/models.js';
import * as images from '../dist/analysis/tasks/images.js';
import { scorePartition } from '../dist/dedupe/index.js';

const S = 224;
const MAP = 'hard_swish_261'; // the last feature map of mobilenet_v3_small_075_224-embed.onnx
const PROJECTION = ['w_263', 'b_264']; // its 1×1 conv to the 1024-d embedding

// --- a minimal protobuf walk of the ONNX file (field numbers from onnx.proto) ---
function* fields(b, start = 0, end = b.length) {
  let i = start;
  const varint = () => {
    let r = 0;
    let s = 1;
    for (;;) {
      const c = b[i++];
      r += (c & 0x7f) * s;
      s *= 128;
      if (!(c & 0x80)) return r;
    }
  };
  while (i < end) {
    const from = i;
    const key = varint();
    const fno = Math.floor(key / 8);
    const wt = key & 7;
    if (wt === 0) yield { fno, wt, value: varint(), from, end: i };
    else if (wt === 2) {
      const len = varint();
      yield { fno, wt, start: i, end: i + len, from };
      i += len;
    } else if (wt === 5 || wt === 1) {
      i += wt === 5 ? 4 : 8;
      yield { fno, wt, from, end: i };
    } else throw new Error(`unexpected protobuf wire type ${wt}`);
  }
}
const varintBytes = (n) => {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
};
const field = (fno, payload) =>
  Buffer.concat([varintBytes(fno * 8 + 2), varintBytes(payload.length), payload]);

/** The model bytes with the graph output `name` (float tensor) added: ModelProto.graph(7).output(12). */
function withOutput(model, name) {
  // ValueInfoProto { name: 1, type: 2 = TypeProto { tensor_type: 1 = { elem_type: 1 = FLOAT } } }
  const info = Buffer.concat([field(1, Buffer.from(name)), field(2, field(1, Buffer.from([0x08, 0x01])))]);
  const parts = [];
  for (const f of fields(model)) {
    if (f.fno === 7) parts.push(field(7, Buffer.concat([model.subarray(f.start, f.end), field(12, info)])));
    else parts.push(model.subarray(f.from, f.end));
  }
  return Buffer.concat(parts);
}

/** A float initializer of the graph (raw_data) as { dims, data }. */
function initializer(model, name) {
  const graph = [...fields(model)].find((f) => f.fno === 7);
  for (const f of fields(model, graph.start, graph.end)) {
    if (f.fno !== 5) continue;
    const t = { dims: [] };
    for (const g of fields(model, f.start, f.end)) {
      if (g.fno === 8) t.name = model.toString('utf8', g.start, g.end);
      if (g.fno === 1 && g.wt === 0) t.dims.push(g.value);
      if (g.fno === 9) t.raw = model.subarray(g.start, g.end);
    }
    if (t.name === name) {
      const copy = Uint8Array.from(t.raw);
      return { dims: t.dims, data: new Float32Array(copy.buffer) };
    }
  }
  throw new Error(`no initializer ${name}`);
}

/** Windows of the 7×7 map (rows r0..r1, columns c0..c1, inclusive). */
const POOLED = {
  bands: [
    [0, 2, 0, 6],
    [2, 4, 0, 6],
    [4, 6, 0, 6],
    [0, 6, 0, 2],
    [0, 6, 2, 4],
    [0, 6, 4, 6],
  ],
  halves: [
    [0, 3, 0, 6],
    [3, 6, 0, 6],
    [0, 6, 0, 3],
    [0, 6, 3, 6],
  ],
  quarters: [
    [0, 3, 0, 3],
    [0, 3, 3, 6],
    [3, 6, 0, 3],
    [3, 6, 3, 6],
  ],
  'corners 5×5': [
    [0, 4, 0, 4],
    [0, 4, 2, 6],
    [2, 6, 0, 4],
    [2, 6, 2, 6],
  ],
};
POOLED.all = [...POOLED.bands, ...POOLED.halves, ...POOLED.quarters, ...POOLED['corners 5×5']];

/** Regions of the photo (left, top, width, height as fractions), each squeezed to 224×224. */
const CROPS = {
  'thirds (bands)': [
    [0, 0, 1, 1 / 3],
    [0, 1 / 3, 1, 1 / 3],
    [0, 2 / 3, 1, 1 / 3],
    [0, 0, 1 / 3, 1],
    [1 / 3, 0, 1 / 3, 1],
    [2 / 3, 0, 1 / 3, 1],
  ],
  'zoom (centre half + quarters)': [
    [0.25, 0.25, 0.5, 0.5],
    [0, 0, 0.5, 0.5],
    [0.5, 0, 0.5, 0.5],
    [0, 0.5, 0.5, 0.5],
    [0.5, 0.5, 0.5, 0.5],
  ],
};
CROPS['centre half'] = CROPS['zoom (centre half + quarters)'].slice(0, 1);
CROPS.all = [...CROPS['thirds (bands)'], ...CROPS['zoom (centre half + quarters)']];

const unit = (v) => {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  return v.map((x) => x * inv);
};
const hardSwish = (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6;

/** Upright, landscape (portrait turned a quarter turn) sRGB raw pixels, at most 672 px. */
async function landscape(bytes) {
  const netpbm = images.decodeNetpbm(bytes);
  const img = netpbm
    ? sharp(netpbm.raw, { raw: { width: netpbm.width, height: netpbm.height, channels: netpbm.channels } })
    : sharp(bytes, { failOn: 'error' }).rotate();
  const { data, info } = await img
    .resize(672, 672, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  if (info.height <= info.width) return { data, info };
  return sharp(data, raw).rotate(90).raw().toBuffer({ resolveWithObject: true });
}

async function cropView({ data, info }, [l, t, w, h]) {
  const region = {
    left: Math.floor(l * info.width),
    top: Math.floor(t * info.height),
    width: Math.max(1, Math.floor(w * info.width)),
    height: Math.max(1, Math.floor(h * info.height)),
  };
  const { data: px, info: pi } = await sharp(data, {
    raw: { width: info.width, height: info.height, channels: info.channels },
  })
    .extract(region)
    .resize(S, S, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (pi.channels === 3) return px;
  const rgb = new Uint8Array(S * S * 3);
  for (let p = 0; p < S * S; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = px[p * pi.channels];
  return rgb;
}

/**
 * Per readable file of `set`: { whole, layout, pooled: Map<kind, vectors>, crops: Map<kind, vectors> }
 * (unit vectors), the default view and the candidates' regions.
 */
async function regionFeatures(set, modelsDir, withCrops) {
  const modelBytes = await readFile(locateModelFile(loadManifest('mobilenet-v3-small-075'), modelsDir));
  const session = await ort.InferenceSession.create(withOutput(modelBytes, MAP), { intraOpNumThreads: 1 });
  const W = initializer(modelBytes, PROJECTION[0]);
  const B = initializer(modelBytes, PROJECTION[1]).data;
  const [D, C] = W.dims;
  const project = (pooled) => {
    const out = new Float32Array(D);
    for (let j = 0; j < D; j++) {
      let t = B[j];
      for (let c = 0; c < C; c++) t += W.data[j * C + c] * pooled[c];
      out[j] = hardSwish(t);
    }
    return unit(out);
  };
  const plane = S * S;
  const out = new Map();
  for (const file of set.files) {
    let bytes;
    let pixels;
    try {
      bytes = await readFile(path.join(set.dir, file));
      const input = images.decodeNetpbm(bytes) ?? { encoded: bytes };
      pixels = await images.recipeView(input, images.DEFAULT_CNN_RECIPE, await images.imageSize(input));
    } catch {
      continue;
    }
    const x = new Float32Array(3 * plane);
    images.rgbToChw(pixels, x, 0, plane);
    const res = await session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });
    const map = res[MAP].data;
    const pooled = new Map();
    for (const [kind, windows] of Object.entries(POOLED)) {
      pooled.set(
        kind,
        windows.map(([r0, r1, c0, c1]) => {
          const mean = new Float32Array(C);
          const cells = (r1 - r0 + 1) * (c1 - c0 + 1);
          for (let c = 0; c < C; c++) {
            let t = 0;
            for (let r = r0; r <= r1; r++) for (let q = c0; q <= c1; q++) t += map[c * 49 + r * 7 + q];
            mean[c] = t / cells;
          }
          return project(mean);
        }),
      );
    }
    const crops = new Map();
    if (withCrops) {
      const photo = await landscape(bytes);
      const all = CROPS.all;
      const batch = new Float32Array(all.length * 3 * plane);
      for (let k = 0; k < all.length; k++)
        images.rgbToChw(await cropView(photo, all[k]), batch, k * 3 * plane, plane);
      const r = await session.run({ input: new ort.Tensor('float32', batch, [all.length, 3, S, S]) });
      const emb = r.embedding.data;
      const vectors = all.map((_, k) => unit(emb.slice(k * 1024, (k + 1) * 1024)));
      for (const [kind, regions] of Object.entries(CROPS))
        crops.set(
          kind,
          regions.map((reg) => vectors[all.indexOf(reg)]),
        );
    }
    out.set(file, {
      whole: unit(res.embedding.data.slice()),
      layout: images.layoutThumbnail(pixels),
      pooled,
      crops,
    });
  }
  await session.release();
  return out;
}

const dot = (a, b) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * The store's rule replayed in name order with a region rule on top: each frame joins the unique with the
 * smallest distance on the threshold's scale (embedding; layout × 0.4/0.1; region × 0.4/Tr).
 */
function replay(set, feats, regionsOf, Tr) {
  const uniques = [];
  const kept = [];
  const cellOf = new Map();
  for (const file of set.files) {
    const x = feats.get(file);
    if (!x) continue;
    let best = Infinity;
    let at = -1;
    for (let u = 0; u < uniques.length; u++) {
      const y = uniques[u];
      let d = 1 - dot(x.whole, y.whole);
      const layout = 1 - dot(x.layout, y.layout);
      if (layout <= 0.1) d = Math.min(d, layout * 4);
      if (regionsOf) {
        let r = Infinity;
        for (const v of regionsOf(y)) r = Math.min(r, 1 - dot(x.whole, v));
        for (const v of regionsOf(x)) r = Math.min(r, 1 - dot(v, y.whole));
        if (r <= Tr) d = Math.min(d, (r * 0.4) / Tr);
      }
      if (d < best) {
        best = d;
        at = u;
      }
    }
    if (best > 0.4) {
      uniques.push(x);
      kept.push(file);
      at = uniques.length - 1;
    }
    if (!set.excluded.has(file)) cellOf.set(file, kept[at]);
  }
  return cellOf;
}

/**
 * Rows { candidate, inferences, Tr, set, precision, recall, f1 } for every region candidate on `sets`.
 * FRAMESIFT_BENCH_REGIONS_CROPS=1 adds the re-inferred crops (11 more inferences per photo: slow).
 */
export async function compareRegions(sets, modelsDir, notes) {
  const withCrops = process.env.FRAMESIFT_BENCH_REGIONS_CROPS === '1';
  const featuresOf = new Map();
  for (const set of sets) featuresOf.set(set.name, await regionFeatures(set, modelsDir, withCrops));
  const candidates = [
    { candidate: 'default rule (no regions)', inferences: 1, regionsOf: undefined, trs: [0] },
  ];
  for (const kind of Object.keys(POOLED))
    candidates.push({
      candidate: `pooled map regions: ${kind}`,
      inferences: 1,
      regionsOf: (f) => f.pooled.get(kind),
      trs: [0.2, 0.25, 0.3, 0.35],
    });
  if (withCrops)
    for (const [kind, regions] of Object.entries(CROPS))
      candidates.push({
        candidate: `re-inferred crops: ${kind}`,
        inferences: 1 + regions.length,
        regionsOf: (f) => f.crops.get(kind),
        trs: [0.2, 0.25, 0.3, 0.35, 0.4],
      });
  const rows = [];
  for (const c of candidates)
    for (const Tr of c.trs)
      for (const set of sets) {
        const s = scorePartition(replay(set, featuresOf.get(set.name), c.regionsOf, Tr), set.groupOf);
        rows.push({
          candidate: c.candidate,
          inferences: c.inferences,
          Tr,
          set: set.name,
          precision: s.precision,
          recall: s.recall,
          f1: s.f1,
        });
      }
  notes.push(
    'regions: replayed with the default rule (embedding 0.40 or layout 0.1) plus the region rule at Tr',
  );
  return rows;
}
