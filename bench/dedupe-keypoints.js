// The keypoint check (docs/dedupe.md, "The keypoint check"), swept: the store's own decisions in name order
// (src/dedupe/store.ts, embedding 0.40 or layout 0.1, then the gray zone (0.40, upper] checked nearest
// first), with the pair comparisons of the product's native addon (src/dedupe/keypoints.ts) cached so that
// every setting of the sweep reuses them. Features are computed lazily, only for photos that reach the gray
// zone; their cost and the comparisons' cost are set against the rule's own per-photo cost (one thread).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { KEYPOINT_SETTINGS, keypointAddon, scorePartition } from '../dist/dedupe/index.js';
import { loadEmbedder, partition, setFeatures } from './dedupe-quality.js';

/** Gray-zone uppers, floors and feature settings swept; override with the env twins (comma lists). */
const list = (env, fallback) => (process.env[env] ? process.env[env].split(',').map(Number) : fallback);

/**
 * Rows { setting, upper, inliers, ncc, maxChecks, set, precision, recall, f1, verified, featured, ms per
 * pair, ms per featured photo, images/s (1 thread) and its ratio to the rule alone }.
 */
export async function compareKeypoints(sets, modelsDir, notes) {
  const addon = keypointAddon();
  if (addon instanceof Error) throw addon;
  const d = KEYPOINT_SETTINGS;
  const embedder = await loadEmbedder(modelsDir);
  const uppers = list('FRAMESIFT_BENCH_KEYPOINTS_UPPER', [d.upper]);
  const floors = list('FRAMESIFT_BENCH_KEYPOINTS_INLIERS', [d.minInliers]);
  const nccs = list('FRAMESIFT_BENCH_KEYPOINTS_NCC', [d.minNcc]);
  const sizes = list('FRAMESIFT_BENCH_KEYPOINTS_SIZE', [d.size]);
  const counts = list('FRAMESIFT_BENCH_KEYPOINTS_FEATURES', [d.features]);
  const checks = list('FRAMESIFT_BENCH_KEYPOINTS_MAX_CHECKS', [d.maxChecks]);
  const fasts = list('FRAMESIFT_BENCH_KEYPOINTS_FAST', [d.fastThreshold]);
  const minFloor = Math.min(...floors);
  const rows = [];
  for (const set of sets) {
    // The rule's own cost: read + decode + view + layout + inference, one thread, in chunks of 16.
    const t0 = performance.now();
    const { features } = await setFeatures(set, 'cnn', embedder);
    const ruleMs = performance.now() - t0;
    const photos = features.size;
    const s0 = scorePartition(partition(set, features, 'cnn', 'cosine', 0.4), set.groupOf);
    rows.push({
      setting: 'default rule (no keypoints)',
      set: set.name,
      precision: s0.precision,
      recall: s0.recall,
      f1: s0.f1,
      imagesPerSecond1Thread: (photos / ruleMs) * 1e3,
      vsRule: 1,
    });
    for (const size of sizes)
      for (const nfeatures of counts)
        for (const fastThreshold of fasts) {
          const described = new Map();
          const pairs = new Map();
          let featureMs = 0;
          let pairMs = 0;
          // Synchronous, as the store's check is: read and described on first use.
          const featuresOf = (file) => {
            if (!described.has(file)) {
              const bytes = readFileSync(path.join(set.dir, file));
              const t = performance.now();
              described.set(
                file,
                addon.describe(bytes, { encoded: true, size, features: nfeatures, fastThreshold }),
              );
              featureMs += performance.now() - t;
            }
            return described.get(file);
          };
          // Every pair any setting may ask for, compared once with the lowest inlier floor of the sweep.
          const compare = (a, b) => {
            const key = `${a}\n${b}`;
            if (!pairs.has(key)) {
              const fa = featuresOf(a);
              const fb = featuresOf(b);
              const t = performance.now();
              const { ratio, reprojection } = d;
              pairs.set(
                key,
                fa && fb
                  ? addon.compare(fa, fb, { ratio, reprojection, minInliers: minFloor })
                  : { inliers: 0, ncc: -1 },
              );
              pairMs += performance.now() - t;
            }
            return pairs.get(key);
          };
          const replay = (upper, maxChecks, passes) => {
            const featured = new Set();
            let verified = 0;
            const cellOf = partition(set, features, 'cnn', 'cosine', 0.4, (file, keptFile) => ({
              upper,
              maxChecks,
              verify: (n) => {
                verified++;
                featured.add(file).add(keptFile[n]);
                return passes(file, keptFile[n]);
              },
            }));
            return { cellOf, featured, verified };
          };
          for (const upper of uppers)
            for (const maxChecks of checks) {
              for (const inliers of floors)
                for (const ncc of nccs) {
                  const run = replay(upper, maxChecks, (a, b) => {
                    const m = compare(a, b);
                    return m.inliers >= inliers && m.ncc >= ncc ? m : undefined;
                  });
                  const s = scorePartition(run.cellOf, set.groupOf);
                  rows.push({
                    setting: `ORB ${nfeatures}, FAST ${fastThreshold}, size ${size}`,
                    upper,
                    maxChecks,
                    inliers,
                    ncc,
                    set: set.name,
                    precision: s.precision,
                    recall: s.recall,
                    f1: s.f1,
                    verified: run.verified,
                    featured: run.featured.size,
                    photos,
                    pending: { featured: run.featured.size, verified: run.verified },
                  });
                }
            }
          // Costs averaged over every pair and photo any setting needed (each computed once).
          const msPerPair = pairs.size ? pairMs / pairs.size : 0;
          const msPerFeatured = described.size ? featureMs / described.size : 0;
          for (const row of rows) {
            if (!row.pending) continue;
            const totalMs = ruleMs + row.pending.featured * msPerFeatured + row.pending.verified * msPerPair;
            Object.assign(row, {
              msPerPair,
              msPerFeatured,
              imagesPerSecond1Thread: (photos / totalMs) * 1e3,
              vsRule: ruleMs / totalMs,
            });
            delete row.pending;
          }
        }
  }
  await embedder.session.release?.();
  notes.push(
    `keypoints: the store's rule (embedding 0.40 or layout 0.1) in name order; a frame it would keep is checked against at most maxChecks ` +
      `uniques with embedding distance in (0.40, upper], nearest first: ORB on a gray copy of about size² pixels, ratio test ${d.ratio}, ` +
      `RANSAC homography (${d.reprojection} px), joined when inliers ≥ the floor and the NCC of the overlap ≥ ncc; ` +
      `native OpenCV ${addon.opencvVersion}; images/s on one thread = photos / (rule time + features of the photos that reach the gray zone + comparisons)`,
  );
  return rows;
}
