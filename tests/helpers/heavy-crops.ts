/**
 * Heavy crops of a real photo, the case the keypoint check exists for (docs/dedupe.md): a thin strip and a
 * zoomed-in part of imagehash's first office photo, beside the two other office photos of the same room
 * (re-shots from the same spot: distinct photos, the hard negatives). Written in name order so that the
 * original comes first.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGEHASH } from '../test-data.js';

const OFFICE = path.join(IMAGEHASH, 'office');

export const HEAVY_CROPS = {
  original: 'a-original.jpg',
  /** Full width, 1/4.5 of it high, from the lower half: aspect 4.5:1. */
  strip: 'b-strip.jpg',
  /** 35 % of the width and half the height, off centre. */
  zoom: 'c-zoom.jpg',
  /** The other two office photos. */
  others: ['d-other.jpg', 'e-other.jpg'],
} as const;

/** Writes the five photos into `dir` (created) and returns it. */
export async function writeHeavyCrops(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const original = path.join(OFFICE, 'tumblr_ndyfdoR6Wp1tubinno1_1280.jpg');
  const { width, height } = await sharp(original).metadata();
  await copyFile(original, path.join(dir, HEAVY_CROPS.original));
  await sharp(original)
    .extract({ left: 0, top: Math.round(height * 0.55), width, height: Math.round(width / 4.5) })
    .jpeg({ quality: 85 })
    .toFile(path.join(dir, HEAVY_CROPS.strip));
  await sharp(original)
    .extract({
      left: Math.round(width * 0.1),
      top: Math.round(height * 0.3),
      width: Math.round(width * 0.35),
      height: Math.round(height * 0.5),
    })
    .jpeg({ quality: 85 })
    .toFile(path.join(dir, HEAVY_CROPS.zoom));
  await copyFile(
    path.join(OFFICE, 'tumblr_ndyfnr7lk21tubinno1_1280.jpg'),
    path.join(dir, HEAVY_CROPS.others[0]),
  );
  await copyFile(
    path.join(OFFICE, 'tumblr_ndyfq386o41tubinno1_1280.jpg'),
    path.join(dir, HEAVY_CROPS.others[1]),
  );
  return dir;
}
