// Keypoint verification for heavy crops (docs/dedupe.md, "Heavy crops: the keypoint check"): the default
// rule (embedding 0.40 or layout 0.1) decides as before; a frame it would keep is also compared, nearest
// first, with the uniques whose embedding distance lies in the gray zone (0.40, upper], by local features
// (ORB from OpenCV compiled to WebAssembly, @techstark/opencv-js): descriptors matched with Lowe's ratio
// test, then one homography fitted by RANSAC; the pair is a copy when at least `inliers` matches agree
// with it. Keypoint features are computed lazily, only for the photos that reach the gray zone; their
// cost and the verifications' cost are measured and set against the rule's own per-photo cost.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import cvModule from '@techstark/opencv-js';
import sharp from 'sharp';
import * as images from '../dist/analysis/tasks/images.js';
import { scorePartition } from '../dist/dedupe/index.js';
import { loadEmbedder, setFeatures } from './dedupe-quality.js';

const THRESHOLD = 0.4;
const LAYOUT = 0.1;

/**
 * { cv }: the OpenCV module once its WebAssembly runtime is ready. Wrapped, because the module is a
 * thenable that resolves to itself (awaiting it directly never ends); a timer holds the event loop open
 * while the runtime compiles.
 */
export async function loadOpenCv() {
  const cv = cvModule;
  if (!cv.Mat)
    await new Promise((resolve) => {
      const hold = setInterval(() => {}, 1000);
      cv.onRuntimeInitialized = () => {
        clearInterval(hold);
        resolve();
      };
    });
  return { cv };
}

/**
 * The gray image for features: `fit` 'long' scales the long side to `size`; 'area' scales to about
 * size² pixels whatever the aspect (a thin strip keeps enough rows for ORB's 31-px border and patch).
 */
async function grayFor(bytes, size, fit) {
  const netpbm = images.decodeNetpbm(bytes);
  const img = netpbm
    ? sharp(netpbm.raw, { raw: { width: netpbm.width, height: netpbm.height, channels: netpbm.channels } })
    : sharp(bytes, { failOn: 'error' }).rotate();
  const meta = netpbm ? { width: netpbm.width, height: netpbm.height } : await img.metadata();
  let w = meta.width;
  let h = meta.height;
  if (!netpbm && (meta.orientation ?? 1) >= 5) [w, h] = [h, w];
  const scale = fit === 'area' ? size / Math.sqrt(w * h) : size / Math.max(w, h);
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const { data, info } = await img
    .resize(width, height, { fit: 'fill' })
    .grayscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Wall ms spent per stage of the check, summed over a sweep (reported in the bench's notes). */
const stageMs = { decode: 0, orb: 0, match: 0, homography: 0, ncc: 0 };
const timed = (stage, fn) => {
  const t = performance.now();
  try {
    return fn();
  } finally {
    stageMs[stage] += performance.now() - t;
  }
};

/** ORB keypoints (x, y pairs) and descriptors (32 bytes each) of one photo. */
function orbOf(cv, orb, gray) {
  const mat = cv.matFromArray(gray.height, gray.width, cv.CV_8UC1, gray.data);
  const none = new cv.Mat();
  const kps = new cv.KeyPointVector();
  const des = new cv.Mat();
  try {
    timed('orb', () => orb.detectAndCompute(mat, none, kps, des));
    const n = kps.size();
    const points = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const p = kps.get(i).pt;
      points[2 * i] = p.x;
      points[2 * i + 1] = p.y;
    }
    return { n, points, descriptors: n > 0 ? Uint8Array.from(des.data) : new Uint8Array(0), gray };
  } finally {
    mat.delete();
    none.delete();
    kps.delete();
    des.delete();
  }
}

/** NCC of `b` with `a` warped onto it by `H`, over the pixels the warp covers (borders eroded). */
function overlapNcc(cv, a, b, H) {
  const src = cv.matFromArray(a.height, a.width, cv.CV_8UC1, a.data);
  const ones = new cv.Mat(a.height, a.width, cv.CV_8UC1, new cv.Scalar(255));
  const warped = new cv.Mat();
  const cover = new cv.Mat();
  const kernel = cv.Mat.ones(5, 5, cv.CV_8U);
  try {
    const size = new cv.Size(b.width, b.height);
    cv.warpPerspective(src, warped, H, size, cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Scalar(0));
    cv.warpPerspective(ones, cover, H, size, cv.INTER_NEAREST, cv.BORDER_CONSTANT, new cv.Scalar(0));
    cv.erode(cover, cover, kernel);
    let n = 0;
    let sa = 0;
    let sb = 0;
    let saa = 0;
    let sbb = 0;
    let sab = 0;
    const w = warped.data;
    const c = cover.data;
    for (let i = 0; i < c.length; i++) {
      if (!c[i]) continue;
      const x = w[i];
      const y = b.data[i];
      n++;
      sa += x;
      sb += y;
      saa += x * x;
      sbb += y * y;
      sab += x * y;
    }
    // Too small an overlap to judge (under 5 % of the frame) counts as no match.
    if (n < 0.05 * c.length) return -1;
    const cov = sab - (sa * sb) / n;
    const va = saa - (sa * sa) / n;
    const vb = sbb - (sb * sb) / n;
    return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : -1;
  } finally {
    src.delete();
    ones.delete();
    warped.delete();
    cover.delete();
    kernel.delete();
  }
}

/**
 * { inliers, ncc }: matches agreeing with one RANSAC homography from `a` to `b` (0 when too few to fit),
 * and the normalised cross-correlation of `b` with `a` warped by it over their overlap (a copy agrees up
 * to resampling and compression; a re-shot of the same scene, with things moved, less).
 */
function inliersOf(cv, matcher, a, b, ratio = 0.8) {
  const none = { inliers: 0, ncc: -1 };
  if (a.n < 8 || b.n < 8) return none;
  const da = cv.matFromArray(a.n, 32, cv.CV_8U, a.descriptors);
  const db = cv.matFromArray(b.n, 32, cv.CV_8U, b.descriptors);
  const knn = new cv.DMatchVectorVector();
  let src;
  let dst;
  let mask;
  let H;
  try {
    timed('match', () => matcher.knnMatch(da, db, knn, 2));
    const good = [];
    for (let i = 0; i < knn.size(); i++) {
      const m = knn.get(i);
      if (m.size() < 2) continue;
      const best = m.get(0);
      if (best.distance < ratio * m.get(1).distance) good.push(best);
    }
    if (good.length < 8) return none;
    const s = new Float32Array(2 * good.length);
    const d = new Float32Array(2 * good.length);
    good.forEach((g, i) => {
      s[2 * i] = a.points[2 * g.queryIdx];
      s[2 * i + 1] = a.points[2 * g.queryIdx + 1];
      d[2 * i] = b.points[2 * g.trainIdx];
      d[2 * i + 1] = b.points[2 * g.trainIdx + 1];
    });
    src = cv.matFromArray(good.length, 1, cv.CV_32FC2, s);
    dst = cv.matFromArray(good.length, 1, cv.CV_32FC2, d);
    mask = new cv.Mat();
    H = timed('homography', () => cv.findHomography(src, dst, cv.RANSAC, 5, mask));
    if (H.empty()) return none;
    // A mirrored or collapsed mapping is no copy (a flip is the embedding's business).
    const h = H.data64F;
    if (h[0] * h[4] - h[1] * h[3] <= 0) return none;
    let count = 0;
    for (let i = 0; i < mask.rows; i++) count += mask.data[i] ? 1 : 0;
    return { inliers: count, ncc: timed('ncc', () => overlapNcc(cv, a.gray, b.gray, H)) };
  } finally {
    da.delete();
    db.delete();
    knn.delete();
    src?.delete();
    dst?.delete();
    mask?.delete();
    H?.delete();
  }
}

const dot = (a, b) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const unit = (v) => {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  return Float32Array.from(v, (x) => x * inv);
};

/**
 * The store's rule replayed in name order (embedding 0.40, layout 0.1 on the threshold's scale; the
 * closest wins), with the keypoint check on the gray zone when `check` is given: the frame joins the
 * nearest unique within (0.40, upper] (at most `maxChecks` of them, nearest first) whose pair passes.
 */
async function replay(set, feats, check) {
  const uniques = [];
  const kept = [];
  const cellOf = new Map();
  let checked = 0;
  for (const file of set.files) {
    const x = feats.get(file);
    if (!x) continue;
    let best = Infinity;
    let at = -1;
    const gray = [];
    for (let u = 0; u < uniques.length; u++) {
      const y = uniques[u];
      const e = 1 - dot(x.vector, y.vector);
      let d = e;
      const layout = 1 - dot(x.layout, y.layout);
      if (layout <= LAYOUT) d = Math.min(d, (layout * THRESHOLD) / LAYOUT);
      if (d < best) {
        best = d;
        at = u;
      }
      if (check && e > THRESHOLD && e <= check.upper) gray.push({ u, e });
    }
    if (best > THRESHOLD && check) {
      gray.sort((p, q) => p.e - q.e);
      at = -1;
      for (const { u } of gray.slice(0, check.maxChecks)) {
        checked++;
        if (await check.passes(file, kept[u])) {
          at = u;
          break;
        }
      }
      if (at >= 0) best = 0;
    }
    if (best > THRESHOLD) {
      uniques.push(x);
      kept.push(file);
      at = uniques.length - 1;
    }
    if (!set.excluded.has(file)) cellOf.set(file, kept[at]);
  }
  return { cellOf, checked };
}

/** Gray-zone upper bounds, inlier floors and feature settings swept; override with the env twins. */
const list = (env, fallback) => (process.env[env] ? process.env[env].split(',').map(Number) : fallback);

/**
 * Rows { setting, upper, inliers, set, precision, recall, f1, verified, featured, ms per pair,
 * ms per featured photo, images/s (1 thread) and its ratio to the rule alone }.
 */
export async function compareKeypoints(sets, modelsDir, notes) {
  const { cv } = await loadOpenCv();
  const embedder = await loadEmbedder(modelsDir);
  const uppers = list('FRAMESIFT_BENCH_KEYPOINTS_UPPER', [0.6, 0.7, 0.8]);
  const floors = list('FRAMESIFT_BENCH_KEYPOINTS_INLIERS', [12, 16, 20, 30]);
  const nccs = list('FRAMESIFT_BENCH_KEYPOINTS_NCC', [-1, 0.5, 0.7, 0.8, 0.9]);
  const sizes = list('FRAMESIFT_BENCH_KEYPOINTS_SIZE', [320, 480]);
  const counts = list('FRAMESIFT_BENCH_KEYPOINTS_FEATURES', [500]);
  const fits = process.env.FRAMESIFT_BENCH_KEYPOINTS_FIT?.split(',') ?? ['area'];
  const maxChecks = Number(process.env.FRAMESIFT_BENCH_KEYPOINTS_MAX_CHECKS ?? 8);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const rows = [];
  for (const set of sets) {
    // The rule's own cost: read + decode + view + layout + inference, one thread, in chunks of 16.
    const t0 = performance.now();
    const { features } = await setFeatures(set, 'cnn', embedder);
    const ruleMs = performance.now() - t0;
    const feats = new Map();
    for (const [file, f] of features) feats.set(file, { vector: unit(f.vector), layout: f.layout });
    const photos = feats.size;
    const base = await replay(set, feats, undefined);
    const s0 = scorePartition(base.cellOf, set.groupOf);
    rows.push({
      setting: 'default rule (no keypoints)',
      upper: '',
      inliers: '',
      ncc: '',
      set: set.name,
      precision: s0.precision,
      recall: s0.recall,
      f1: s0.f1,
      imagesPerSecond1Thread: (photos / ruleMs) * 1e3,
      vsRule: 1,
    });
    for (const fit of fits)
      for (const size of sizes)
        for (const nfeatures of counts) {
          const orb = new cv.ORB(nfeatures);
          const kp = new Map();
          const pairs = new Map();
          let featureMs = 0;
          let pairMs = 0;
          const featuresOf = async (file) => {
            if (!kp.has(file)) {
              const t = performance.now();
              const bytes = await readFile(path.join(set.dir, file));
              const tDecode = performance.now();
              const gray = await grayFor(bytes, size, fit);
              stageMs.decode += performance.now() - tDecode;
              kp.set(file, orbOf(cv, orb, gray));
              featureMs += performance.now() - t;
            }
            return kp.get(file);
          };
          const inliersBetween = async (a, b) => {
            const key = `${a}\n${b}`;
            if (!pairs.has(key)) {
              const fa = await featuresOf(a);
              const fb = await featuresOf(b);
              const t = performance.now();
              pairs.set(key, inliersOf(cv, matcher, fa, fb));
              pairMs += performance.now() - t;
            }
            return pairs.get(key);
          };
          const runs = [];
          for (const upper of uppers)
            for (const inliers of floors)
              for (const ncc of nccs) {
                const featured = new Set();
                const { cellOf, checked } = await replay(set, feats, {
                  upper,
                  maxChecks,
                  passes: async (a, b) => {
                    featured.add(a);
                    featured.add(b);
                    const pair = await inliersBetween(a, b);
                    return pair.inliers >= inliers && pair.ncc >= ncc;
                  },
                });
                runs.push({ upper, inliers, ncc, featured, cellOf, checked });
              }
          // Costs averaged over every pair and photo any setting needed (each computed once).
          const msPerPair = pairs.size ? pairMs / pairs.size : 0;
          const msPerFeatured = kp.size ? featureMs / kp.size : 0;
          for (const { upper, inliers, ncc, featured, cellOf, checked } of runs) {
            const s = scorePartition(cellOf, set.groupOf);
            const totalMs = ruleMs + featured.size * msPerFeatured + checked * msPerPair;
            rows.push({
              setting: `ORB ${nfeatures}, ${fit} ${size}`,
              upper,
              inliers,
              ncc,
              set: set.name,
              precision: s.precision,
              recall: s.recall,
              f1: s.f1,
              verified: checked,
              featured: featured.size,
              photos,
              msPerPair,
              msPerFeatured,
              imagesPerSecond1Thread: (photos / totalMs) * 1e3,
              vsRule: ruleMs / totalMs,
            });
          }
          orb.delete();
        }
  }
  matcher.delete();
  await embedder.session.release?.();
  notes.push(
    `keypoints: wall ms per stage over the whole sweep (every setting's features and pairs, each computed once): ` +
      Object.entries(stageMs)
        .map(([stage, ms]) => `${stage} ${ms.toFixed(0)}`)
        .join(', '),
  );
  notes.push(
    `keypoints: default rule (embedding ${THRESHOLD} or layout ${LAYOUT}) replayed in name order; a frame it would keep ` +
      `is checked against at most ${maxChecks} uniques with embedding distance in (${THRESHOLD}, upper], nearest first: ` +
      'ORB, ratio test 0.8, RANSAC homography (5 px), joined when inliers ≥ the floor and the NCC of the overlap ≥ ncc (-1: no NCC test); images/s on one thread = ' +
      'photos / (rule time + keypoint features of the photos that reach the gray zone + verifications)',
  );
  return rows;
}
