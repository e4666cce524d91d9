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
  | {
      kind: 'embedding';
      vector: Float32Array;
      /**
       * Photos: the layout thumbnail (unit length, flip-symmetric 16×16 gray, see the images task). A frame
       * whose layout is within CNN_LAYOUT_THRESHOLD (cosine distance) of a kept frame's is a duplicate too.
       */
      layout?: Float32Array;
    }
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
  cnn: { cosine: 0.4, l2: 0.8944, rmse: 0.42 } satisfies Record<Metric, number>,
  /**
   * cnn on 28×28 gray streams, where the feature is the Fashion-MNIST classifier's embedding (measured on
   * test images and altered copies, `npm run bench -- dedupe`): that embedding is trained to gather a
   * class, so only very close frames are the same picture.
   */
  cnnClassifier: { cosine: 0.002, l2: 0.0632, rmse: 0.42 } satisfies Record<Metric, number>,
  phash: 16,
  mse: 0.015,
  change: 0.3,
};

/**
 * The second half of the cnn rule on photos: a frame whose layout thumbnail is within this cosine distance
 * of a kept frame's is a duplicate of it even when the embeddings are farther apart than the threshold
 * (grayscale, blurred and tiny copies). Measured with the threshold (docs/dedupe.md).
 */
export const CNN_LAYOUT_THRESHOLD = 0.1;

/** `classifierEmbedding`: cnn on a 28×28 gray stream, compared by the classifier's embedding. */
export function defaultThreshold(method: Method, metric: Metric, classifierEmbedding = false): number {
  if (method !== 'cnn') return DEFAULT_THRESHOLDS[method];
  return (classifierEmbedding ? DEFAULT_THRESHOLDS.cnnClassifier : DEFAULT_THRESHOLDS.cnn)[metric];
}

/** One sentence per method: what its threshold means (for --help and reports). */
export const THRESHOLD_MEANING: Record<Method, string> = {
  cnn: `cosine distance 1−cos between L2-normalised embeddings (0 same, 2 opposite); photos whose layout thumbnails are within ${CNN_LAYOUT_THRESHOLD} are duplicates too`,
  phash: 'Hamming distance between 64-bit perceptual hashes (0–64 differing bits)',
  mse: `mean squared difference of ${MSE_THUMB_SIZE}×${MSE_THUMB_SIZE} gray thumbnails scaled to [0,1]`,
  change: 'changed area / image area versus the last kept frame (0–1)',
};

/** The threshold scale of the application framesift replaces: cnn embeddings compared by rmse. */
export const SEED_THRESHOLD_SCALE = { method: 'cnn', metric: 'rmse' } as const;

/**
 * Factor from the seed's threshold scale (cnn + rmse) to `method`'s own distance: the ratio of the two
 * measured default thresholds, so a slider position means "this much stricter or looser than the
 * measured default" whatever the method (docs/app.md). 1 for cnn + rmse.
 */
export function thresholdScale(method: Method, metric: Metric): number {
  return defaultThreshold(method, metric) / DEFAULT_THRESHOLDS.cnn.rmse;
}

/** A threshold slider in a method's own distance. */
export interface ThresholdSlider {
  min: number;
  max: number;
  step: number;
  /** Where the slider starts: the given threshold, else the seed's initial value mapped. */
  initial: number;
}

/**
 * Maps the seed-scale slider (OPTIONS_TH_MIN/MAX/INC/INIT) onto `method`'s distance: the minimum and the step
 * scaled (three significant digits; phash in whole bits, step at least 1), the maximum and the start the
 * same number of steps from the minimum as in the seed's scale. A `given` threshold outside the range
 * widens it, so the slider can always show the value in force.
 */
export function thresholdSlider(
  method: Method,
  metric: Metric,
  seed: { min: number; max: number; inc: number; init: number },
  given?: number,
): ThresholdSlider {
  const k = thresholdScale(method, metric);
  const tidy = (x: number) => Number(x.toFixed(6));
  const significant = (x: number) => Number(x.toPrecision(3));
  // Bounds and start stay on the step grid (min + n·step), so the browser's slider never snaps them.
  const step = method === 'phash' ? Math.max(1, Math.round(seed.inc * k)) : significant(seed.inc * k);
  let min = method === 'phash' ? Math.round(seed.min * k) : significant(seed.min * k);
  const steps = (x: number) => Math.max(0, Math.round((x - seed.min) / seed.inc));
  let max = tidy(min + steps(seed.max) * step);
  const initial = given ?? tidy(min + steps(seed.init) * step);
  min = Math.min(min, initial);
  max = Math.max(max, initial);
  return { min, max, step, initial };
}
