/**
 * The change-detection rule for fixed cameras (the per-camera filtering script framesift replaces):
 * grayscale → optional resize → border crop → optional blur (those run on the workers, see
 * `changePrepSpec`) → absolute difference with the last kept frame → pixel threshold → dilation →
 * connected regions smaller than a minimum area ignored → score = changed area / image area.
 */

import { DEFAULT_CHANGE_OPTIONS, parseChangeOptions, type ChangeOptions } from '../common/change-options.js';

export { DEFAULT_CHANGE_OPTIONS, parseChangeOptions, type ChangeOptions };

/** A gray image as the workers prepare it for the change rule. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The crop (after resizing to `width`×`height`) that removes the border. */
export function borderCrop(
  width: number,
  height: number,
  borderPercent: number,
): { left: number; top: number; width: number; height: number } {
  const dx = Math.floor((width * borderPercent) / 100);
  const dy = Math.floor((height * borderPercent) / 100);
  return { left: dx, top: dy, width: Math.max(1, width - 2 * dx), height: Math.max(1, height - 2 * dy) };
}

/** Binary mask of pixels whose absolute difference exceeds `threshold`. */
export function differenceMask(a: GrayImage, b: GrayImage, threshold: number): Uint8Array {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`change: frame sizes differ (${a.width}×${a.height} vs ${b.width}×${b.height})`);
  }
  const mask = new Uint8Array(a.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = Math.abs(a.data[i]! - b.data[i]!) > threshold ? 1 : 0;
  return mask;
}

/** One 3×3 dilation of a binary mask. */
export function dilate(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - 1);
    const y1 = Math.min(height - 1, y + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - 1);
      const x1 = Math.min(width - 1, x + 1);
      let on = 0;
      for (let yy = y0; yy <= y1 && !on; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          if (mask[yy * width + xx]) {
            on = 1;
            break;
          }
        }
      }
      out[y * width + x] = on;
    }
  }
  return out;
}

/** Sizes of the 8-connected regions of a binary mask (iterative flood fill, no recursion). */
export function regionAreas(mask: Uint8Array, width: number, height: number): number[] {
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  const areas: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    let area = 0;
    while (top > 0) {
      const p = stack[--top]!;
      area++;
      const px = p % width;
      const py = (p - px) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    areas.push(area);
  }
  return areas;
}

/**
 * Changed area / image area between two prepared gray frames, in [0, 1]: 0 when nothing moved. Regions
 * below `minAreaFraction` of the image do not count.
 */
export function changeScore(
  a: GrayImage,
  b: GrayImage,
  options: ChangeOptions = DEFAULT_CHANGE_OPTIONS,
): number {
  let mask = differenceMask(a, b, options.pixelThreshold);
  for (let i = 0; i < options.dilateIterations; i++) mask = dilate(mask, a.width, a.height);
  const total = a.width * a.height;
  const minArea = options.minAreaFraction * total;
  let changed = 0;
  for (const area of regionAreas(mask, a.width, a.height)) if (area >= minArea) changed += area;
  return changed / total;
}
