/** Summary metrics over a session's predictions: per-class counts, confidence, latency, throughput. */
import type { ClassSummary, LatencySummary } from '../common/results-document.js';
import { labelName } from './labels.js';

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Rounds to `digits` decimals (the document keeps numbers short). */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function latencySummary(latenciesMs: ArrayLike<number>): LatencySummary | null {
  const finite = Float64Array.from(latenciesMs).filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  finite.sort();
  let sum = 0;
  for (const v of finite) sum += v;
  return {
    count: finite.length,
    mean: round(sum / finite.length, 3),
    min: round(finite[0] as number, 3),
    p50: round(percentile(finite, 50), 3),
    p90: round(percentile(finite, 90), 3),
    p99: round(percentile(finite, 99), 3),
    max: round(finite[finite.length - 1] as number, 3),
  };
}

/**
 * Count and mean confidence per predicted class. With class names, every named class is listed (zero
 * counts included, so a class the model never predicts shows); labels beyond the names are appended.
 */
export function classSummaries(
  labels: ArrayLike<number>,
  confidences: ArrayLike<number>,
  names: readonly string[] | undefined,
): ClassSummary[] {
  const counts = new Map<number, { count: number; sum: number }>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    const entry = counts.get(label) ?? { count: 0, sum: 0 };
    entry.count++;
    entry.sum += confidences[i] as number;
    counts.set(label, entry);
  }
  const all = new Set<number>(counts.keys());
  names?.forEach((_, label) => all.add(label));
  return [...all]
    .sort((a, b) => a - b)
    .map((label) => {
      const entry = counts.get(label);
      return {
        label,
        name: labelName(label, names),
        count: entry?.count ?? 0,
        meanConfidence: entry ? round(entry.sum / entry.count, 4) : null,
      };
    });
}

export function meanOf(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

export interface Histogram {
  /** Lower edge of each bin; the last bin also holds everything above `upper`. */
  edges: number[];
  counts: number[];
  binWidth: number;
  /** Values above the last edge + binWidth folded into the last bin. */
  overflow: number;
}

/** A histogram of `values` over [0, upper) in `bins` equal bins; values ≥ upper fold into the last bin. */
export function histogram(values: ArrayLike<number>, bins: number, upper: number): Histogram {
  const binWidth = upper > 0 ? upper / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  let overflow = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    let bin = Math.floor(Math.max(0, v) / binWidth);
    if (bin >= bins) {
      overflow++;
      bin = bins - 1;
    }
    counts[bin] = (counts[bin] as number) + 1;
  }
  return { edges: counts.map((_, i) => i * binWidth), counts, binWidth, overflow };
}
