/**
 * Distances between the features of two frames. Every method's distance grows with dissimilarity, and a
 * frame is a duplicate when its distance to the nearest kept frame is at or below the threshold.
 */

/** Distance between cnn embeddings (`--metric`). */
export type Metric = 'cosine' | 'l2' | 'rmse';

import { dot, l2Normalize } from '../common/vector.js';

export { dot, l2Normalize };

function checkLengths(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`feature lengths differ: ${a.length} vs ${b.length}`);
}

/** 1 − cos(a, b), in [0, 2]; 0 for identical directions. Inputs need not be normalised. */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  checkLengths(a, b);
  const na = Math.sqrt(dot(a, a));
  const nb = Math.sqrt(dot(b, b));
  if (na === 0 || nb === 0) return na === nb ? 0 : 1;
  return Math.max(0, 1 - dot(a, b) / (na * nb));
}

/** Euclidean distance between the L2-normalised vectors, in [0, 2] (= sqrt(2 × cosine distance)). */
export function l2Distance(a: Float32Array, b: Float32Array): number {
  return Math.sqrt(2 * cosineDistance(a, b));
}

/** Root-mean-square difference of the raw (not normalised) features: the seed application's rule. */
export function rmseDistance(a: Float32Array, b: Float32Array): number {
  return Math.sqrt(meanSquaredError(a, b));
}

/** Mean squared difference (pixel MSE on thumbnails scaled to [0, 1]). */
export function meanSquaredError(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  if (a.length !== b.length) throw new Error(`feature lengths differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return a.length === 0 ? 0 : sum / a.length;
}

/** Distance between two cnn embeddings under `metric`. */
export function embeddingDistance(metric: Metric, a: Float32Array, b: Float32Array): number {
  switch (metric) {
    case 'cosine':
      return cosineDistance(a, b);
    case 'l2':
      return l2Distance(a, b);
    case 'rmse':
      return rmseDistance(a, b);
  }
}

/** Bits set in a 32-bit integer. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Hamming distance between two 64-bit hashes (0–64). */
export function hammingDistance(a: bigint, b: bigint): number {
  const x = BigInt.asUintN(64, a ^ b);
  return popcount32(Number(x & 0xffffffffn)) + popcount32(Number(x >> 32n));
}
