/**
 * The parameters of dedupe's change method (fixed cameras) and their `--change-options` syntax. Parsed
 * here, in common, so the config schema rejects a bad value at start-up (exit 2) before anything runs.
 */
import { UserError } from './errors.js';

export interface ChangeOptions {
  /** Resize to this width before comparing (keeps aspect); 0 = keep the size. */
  resizeWidth: number;
  /** Border cropped on every side, percent of the width/height (timestamps, vignetting). */
  borderPercent: number;
  /** Gaussian blur sigma; 0 = none. Suppresses sensor noise and JPEG blocking. */
  blurSigma: number;
  /** A pixel changed when |a − b| exceeds this (0–255). */
  pixelThreshold: number;
  /** 3×3 dilations of the changed-pixel mask, so nearby specks merge into one region. */
  dilateIterations: number;
  /** Connected regions (8-neighbour) smaller than this fraction of the image are ignored as noise. */
  minAreaFraction: number;
}

export const DEFAULT_CHANGE_OPTIONS: ChangeOptions = {
  resizeWidth: 320,
  borderPercent: 2,
  blurSigma: 1.5,
  pixelThreshold: 25,
  dilateIterations: 2,
  minAreaFraction: 0.002,
};

const CHANGE_KEYS: Record<string, keyof ChangeOptions> = {
  resize: 'resizeWidth',
  border: 'borderPercent',
  blur: 'blurSigma',
  pixel: 'pixelThreshold',
  dilate: 'dilateIterations',
  minarea: 'minAreaFraction',
};

/**
 * `resize=320,border=2,blur=1.5,pixel=25,dilate=2,minArea=0.002` (any subset, any order) over the
 * defaults. A bad key or value is a UserError naming it.
 */
export function parseChangeOptions(spec: string | undefined): ChangeOptions {
  const options = { ...DEFAULT_CHANGE_OPTIONS };
  if (!spec) return options;
  for (const part of spec.split(',')) {
    const [rawKey = '', rawValue = ''] = part.split('=').map((x) => x.trim());
    const key = CHANGE_KEYS[rawKey.toLowerCase()];
    const value = Number(rawValue);
    if (!key) {
      throw new UserError(
        `--change-options ${JSON.stringify(part)}: expected one of ${Object.keys(CHANGE_KEYS).join(', ')}`,
      );
    }
    const integer = key === 'resizeWidth' || key === 'pixelThreshold' || key === 'dilateIterations';
    const max = {
      resizeWidth: 65535,
      borderPercent: 49,
      blurSigma: 100,
      pixelThreshold: 255,
      dilateIterations: 50,
      minAreaFraction: 1,
    }[key];
    if (!Number.isFinite(value) || value < 0 || value > max || (integer && !Number.isInteger(value))) {
      throw new UserError(
        `--change-options ${rawKey}=${rawValue}: expected ${integer ? 'an integer' : 'a number'} 0-${max}`,
      );
    }
    options[key] = value;
  }
  return options;
}
