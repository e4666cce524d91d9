/**
 * The faster parts of the images task's decode + prep give what the reference path gave, on every fixture
 * photo: the JPEG header's size (read in JS) is sharp's `metadata()` size, EXIF orientation included; the
 * layout thumbnail's block sums are the pixel-by-pixel sums bit for bit; the one-pass RGB → CHW copy is
 * the per-channel one. So no dedupe decision can move (docs/dedupe.md, "Where the decode time goes").
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { hwcToNchw, imageSize } from '../../../src/analysis/preprocess.js';
import {
  DEFAULT_CNN_RECIPE,
  LAYOUT_SIZE,
  layoutCells,
  layoutFromCells,
  layoutThumbnail,
  recipeView,
} from '../../../src/analysis/tasks/images.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

const PHOTOS = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos');
const IMAGE = /\.(jpe?g|png|webp|gif|tiff?)$/i;

let photos: Array<{ file: string; bytes: Buffer }>;
beforeAll(async () => {
  const files = (await readdir(PHOTOS, { recursive: true })).filter((f) => IMAGE.test(f)).sort();
  photos = await Promise.all(
    files.map(async (f) => ({ file: f, bytes: await readFile(path.join(PHOTOS, f)) })),
  );
});

/** sharp's displayed size: the reference `imageSize` used before the header read. */
async function sharpSize(bytes: Buffer): Promise<{ width: number; height: number } | undefined> {
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) return undefined;
    return (meta.orientation ?? 1) >= 5
      ? { width: meta.height, height: meta.width }
      : { width: meta.width, height: meta.height };
  } catch {
    return undefined;
  }
}

/** The same float32 values, bit for bit (a deep equality over 150,528 floats is too slow to report). */
const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The layout thumbnail's cells as first written: every pixel added into a Float32Array cell in turn. */
function referenceCells(pixels: Uint8Array, side = 224): Float32Array {
  const n = LAYOUT_SIZE;
  const block = side / n;
  const cells = new Float32Array(n * n);
  for (let y = 0; y < side; y++) {
    const row = Math.floor(y / block) * n;
    for (let x = 0; x < side; x++) {
      const i = 3 * (y * side + x);
      cells[row + Math.floor(x / block)]! +=
        0.299 * pixels[i]! + 0.587 * pixels[i + 1]! + 0.114 * pixels[i + 2]!;
    }
  }
  return cells;
}

describe('the image size without a sharp round trip', () => {
  it('is sharp’s displayed size on every fixture photo', async () => {
    expect(photos.length).toBeGreaterThan(100);
    let jpegs = 0;
    for (const { file, bytes } of photos) {
      const reference = await sharpSize(bytes);
      if (!reference) continue; // the corrupt fixture: both paths fail at decode
      if (/\.jpe?g$/i.test(file)) jpegs++;
      expect(await imageSize({ encoded: bytes }), file).toEqual(reference);
    }
    expect(jpegs).toBeGreaterThan(100);
  });

  it('follows the EXIF orientation of a JPEG as libvips does (5-8 swap width and height)', async () => {
    const base = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer();
    for (let orientation = 1; orientation <= 8; orientation++) {
      const bytes = await sharp(base).withMetadata({ orientation }).jpeg().toBuffer();
      expect((await sharp(bytes).metadata()).orientation).toBe(orientation);
      expect(await imageSize({ encoded: bytes })).toEqual(await sharpSize(bytes));
    }
  });

  it('leaves a damaged header to sharp, which names the problem', async () => {
    const truncated = photos.find((p) => /\.jpe?g$/i.test(p.file))!.bytes.subarray(0, 40);
    await expect(imageSize({ encoded: truncated })).rejects.toThrow();
  });
});

describe('the prep loops, bit for bit', () => {
  it('the layout thumbnail and the CHW tensor equal the reference loops on every fixture photo’s view', async () => {
    const plane = 224 * 224;
    const fast = new Float32Array(3 * plane);
    const reference = new Float32Array(3 * plane);
    let views = 0;
    for (const { file, bytes } of photos) {
      const size = await sharpSize(bytes);
      if (!size) continue;
      const view = await recipeView({ encoded: bytes }, DEFAULT_CNN_RECIPE, size);
      expect(sameBits(layoutCells(view), referenceCells(view)), file).toBe(true);
      expect(sameBits(layoutThumbnail(view), layoutFromCells(referenceCells(view))), file).toBe(true);
      hwcToNchw(view, 224, 224, 3, 3, fast, 0);
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < plane; i++) reference[c * plane + i] = view[3 * i + c]! / 255;
      expect(sameBits(fast, reference), file).toBe(true);
      views++;
    }
    expect(views).toBeGreaterThan(100);
  });

  it('a layout side that is not a multiple of the grid is an error, not a skewed thumbnail', () => {
    expect(() => layoutThumbnail(new Uint8Array(100 * 100 * 3), 100)).toThrow(/multiple of 16/);
  });
});
