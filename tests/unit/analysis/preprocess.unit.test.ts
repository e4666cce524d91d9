/**
 * The one image-preprocessing path (decode → resize → layout → tensor) on real photos and Fashion-MNIST
 * frames: each step against sharp done by hand, and the callers (the registry's preprocessImage, classify's
 * frames, the photo views of the images task) agreeing with each other.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest, preprocessImage } from '../../../src/analysis/models.js';
import {
  hwcToNchw,
  imageSize,
  modelInput,
  modelPixels,
  pixelRecipeOf,
  type ImageInput,
} from '../../../src/analysis/preprocess.js';
import { photoPixels, wholeFramePixels } from '../../../src/analysis/tasks/images.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { IMAGEDEDUP, IMAGEHASH } from '../../test-data.js';

const FOREST = path.join(IMAGEHASH, 'forest', 'forest-high.jpg');
const GRAY = path.join(IMAGEDEDUP, 'ukbench00120_gray.jpg');
const CORRUPT = path.join(IMAGEDEDUP, 'mixed_images', 'ukbench09268_corrupt.jpg');
const PHOTO_RECIPE = { width: 224, height: 224, channels: 3, resizeShortSide: 256, centerCrop: 224 } as const;

let forest: Buffer;
let garment: Uint8Array;
beforeAll(async () => {
  forest = await readFile(FOREST);
  garment = (await loadFashionMnist('test')).images.slice(0, 784);
});

describe('the pixel recipe', () => {
  it('comes from a manifest: the photo embedder resizes and crops, the Fashion-MNIST CNN squeezes', () => {
    const v3 = loadManifest('mobilenet-v3-small-075');
    expect(pixelRecipeOf(v3.input, v3.preprocess)).toEqual(PHOTO_RECIPE);
    const cnn = loadManifest('fashion-mnist-cnn');
    expect(pixelRecipeOf(cnn.input, cnn.preprocess)).toEqual({ width: 28, height: 28, channels: 1 });
  });
});

describe('decode → resize → layout', () => {
  it('a raw frame of the model size comes out unchanged', async () => {
    const pixels = await modelPixels(
      { raw: garment, width: 28, height: 28, channels: 1 },
      { width: 28, height: 28, channels: 1 },
    );
    expect(Buffer.from(pixels).equals(Buffer.from(garment))).toBe(true);
  });

  it('short side to 256, centre crop 224: the pixels sharp gives in one pipeline', async () => {
    const pixels = await modelPixels({ encoded: forest }, PHOTO_RECIPE);
    const { width, height } = (await sharp(forest).metadata()) as { width: number; height: number };
    const k = 256 / Math.min(width, height);
    const [w, h] = [Math.round(width * k), Math.round(height * k)];
    const reference = await sharp(forest)
      .resize(w, h, { fit: 'fill', kernel: 'linear' })
      .extract({ left: Math.floor((w - 224) / 2), top: Math.floor((h - 224) / 2), width: 224, height: 224 })
      .raw()
      .toBuffer();
    expect(Buffer.from(pixels).equals(reference)).toBe(true);
  });

  it('without a short side the whole frame is squeezed to the input size', async () => {
    const pixels = await modelPixels({ encoded: forest }, { width: 64, height: 48, channels: 3 });
    const reference = await sharp(forest).resize(64, 48, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    expect(Buffer.from(pixels).equals(reference)).toBe(true);
  });

  it('a crop smaller than the input is fitted to it in a second pass', async () => {
    const pixels = await modelPixels(
      { raw: garment, width: 28, height: 28, channels: 1 },
      { width: 28, height: 28, channels: 1, resizeShortSide: 20, centerCrop: 16 },
    );
    expect(pixels.length).toBe(28 * 28);
  });

  it('gives exactly the model’s channels: a gray photo repeated for RGB, a colour one made gray', async () => {
    const rgb = await modelPixels({ encoded: await readFile(GRAY) }, PHOTO_RECIPE);
    expect(rgb.length).toBe(224 * 224 * 3);
    for (let p = 0; p < 224 * 224; p += 997) {
      expect(rgb[3 * p + 1]).toBe(rgb[3 * p]);
      expect(rgb[3 * p + 2]).toBe(rgb[3 * p]);
    }
    const gray = await modelPixels({ encoded: forest }, { width: 28, height: 28, channels: 1 });
    const reference = await sharp(forest)
      .resize(28, 28, { fit: 'fill', kernel: 'linear' })
      .grayscale()
      .raw()
      .toBuffer();
    expect(Buffer.from(gray).equals(reference)).toBe(true);
  });

  it('honours EXIF orientation unless the frame header gave the size (a ring frame is taken as stored)', async () => {
    const turned = await sharp(forest).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const stored = (await sharp(turned).metadata()) as { width: number; height: number };
    expect(await imageSize({ encoded: turned })).toEqual({ width: stored.height, height: stored.width });
    const asStored = { width: stored.width, height: stored.height };
    expect(await imageSize({ encoded: turned, size: asStored })).toEqual(asStored);
    const recipe = { width: 32, height: 32, channels: 3 } as const;
    const shown = await modelPixels({ encoded: turned }, recipe);
    const header = await modelPixels({ encoded: turned, size: asStored }, recipe);
    expect(Buffer.from(shown).equals(Buffer.from(header))).toBe(false);
    const rotated = await sharp(turned)
      .rotate()
      .resize(32, 32, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    expect(Buffer.from(shown).equals(rotated)).toBe(true);
  });

  it('a corrupt file is an error', async () => {
    const corrupt: ImageInput = { encoded: await readFile(CORRUPT) };
    await expect(modelPixels(corrupt, PHOTO_RECIPE)).rejects.toThrow();
    await expect(preprocessImage(CORRUPT, loadManifest('mobilenet-v3-small-075'))).rejects.toThrow(
      /ukbench09268_corrupt\.jpg: cannot be decoded as an image/,
    );
  });
});

describe('layout → tensor', () => {
  it('converts interleaved RGB bytes to planar floats', () => {
    // 2 pixels: (0, 51, 255), (255, 102, 0)
    const out = hwcToNchw(new Uint8Array([0, 51, 255, 255, 102, 0]), 2, 1, 3, 3);
    expect(Array.from(out)).toEqual([0, 1, 0.2, 0.4, 1, 0].map((v) => Math.fround(v)));
  });

  it('writes into a batch tensor at an offset and repeats a single band', () => {
    const target = new Float32Array(2 + 3 * 2).fill(-1);
    hwcToNchw(new Uint8Array([255, 0]), 2, 1, 1, 3, target, 2);
    expect(Array.from(target)).toEqual([-1, -1, 1, 0, 1, 0, 1, 0]);
  });

  it('every byte maps to the float32 of byte/255', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const out = hwcToNchw(bytes, 256, 1, 1, 1);
    for (let i = 0; i < 256; i++) expect(out[i]).toBe(Math.fround(i / 255));
  });
});

describe('one path for every caller', () => {
  it('the registry, the photo view and the tensor step agree on the classifier recipe', async () => {
    const v3 = loadManifest('mobilenet-v3-small-075');
    const registry = await preprocessImage(FOREST, v3);
    const view = hwcToNchw(await photoPixels({ encoded: forest }), 224, 224, 3, 3);
    expect(Buffer.from(registry.buffer).equals(Buffer.from(view.buffer))).toBe(true);
  });

  it('the whole-frame photo view is the recipe without a short side', async () => {
    const view = await wholeFramePixels({ encoded: forest });
    const direct = await modelPixels({ encoded: forest }, { width: 224, height: 224, channels: 3 });
    expect(Buffer.from(view).equals(Buffer.from(direct))).toBe(true);
  });

  it('a PNG frame and the raw frame it encodes give the same tensor', async () => {
    const png = await sharp(garment, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    const recipe = { width: 28, height: 28, channels: 1 } as const;
    const fromPng = await modelInput({ encoded: png }, recipe);
    const fromRaw = await modelInput({ raw: garment, width: 28, height: 28, channels: 1 }, recipe);
    expect(Array.from(fromPng)).toEqual(Array.from(fromRaw));
    expect(fromRaw[300]).toBe(Math.fround(garment[300]! / 255));
  });
});
