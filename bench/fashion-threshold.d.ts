// Types of bench/fashion-threshold.js for the test of the default (tests/integration/dedupe/fashion-threshold.integration.test.ts).
export const FASHION_SWEEP: number[];

export interface FashionSweepRow {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  recallBy: Record<'shift' | 'brightness' | 'noise', number>;
}

export function fashionCalibration(options?: {
  dataDir?: string;
  images?: number;
  thresholds?: number[];
}): Promise<{ images: number; rows: FashionSweepRow[]; pick: FashionSweepRow | undefined }>;
