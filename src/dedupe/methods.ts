/**
 * The dedupe methods, their features and their default thresholds. A frame is a duplicate when its
 * distance to the nearest kept frame (for `change`: the last kept frame of its stream) is AT OR BELOW the
 * threshold; a distance exactly equal to the threshold is a duplicate.
 */
import type { GrayImage } from './change.js';
import type { Metric } from './distance.js';

export type Method = 'cnn' | 'phash' | 'mse' | 'change';

/** Side of the gray thumbnail the `mse` method compares (aspect ratio ignored, like the hash). */
export const MSE_THUMB_SIZE = 16;

/** What a worker computes for one frame, per method. */
export type Feature =
  | { kind: 'embedding'; vector: Float32Array }
  | { kind: 'thumbnail'; pixels: Float32Array }
  | { kind: 'hash'; hash: bigint }
  | { kind: 'gray'; image: GrayImage };

export const FEATURE_KIND: Record<Method, Feature['kind']> = {
  cnn: 'embedding',
  mse: 'thumbnail',
  phash: 'hash',
  change: 'gray',
};

/**
 * Default thresholds, measured on the shared near-duplicate sets (docs/dedupe.md, `npm run bench`).
 * cnn is per metric because the metrics have different scales.
 */
export const DEFAULT_THRESHOLDS = {
  cnn: { cosine: 0.5, l2: 1.0, rmse: 0.42 } satisfies Record<Metric, number>,
  phash: 16,
  mse: 0.015,
  change: 0.3,
};

export function defaultThreshold(method: Method, metric: Metric): number {
  return method === 'cnn' ? DEFAULT_THRESHOLDS.cnn[metric] : DEFAULT_THRESHOLDS[method];
}

/** One sentence per method: what its threshold means (for --help and reports). */
export const THRESHOLD_MEANING: Record<Method, string> = {
  cnn: 'cosine distance 1−cos between L2-normalised embeddings (0 same, 2 opposite)',
  phash: 'Hamming distance between 64-bit perceptual hashes (0–64 differing bits)',
  mse: `mean squared difference of ${MSE_THUMB_SIZE}×${MSE_THUMB_SIZE} gray thumbnails scaled to [0,1]`,
  change: 'changed area / image area versus the last kept frame (0–1)',
};
