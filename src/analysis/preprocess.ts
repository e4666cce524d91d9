/**
 * The one image-preprocessing path for models: decode → resize → layout → tensor. Every model input is
 * made here: the registry's `preprocessImage` (files and encoded bytes), classify's frames of another size
 * or encoding, and the photo views of the images task (cnn dedupe, `describe`).
 *
 * 1. decode: encoded bytes (EXIF-oriented unless the frame header gave the size) or raw HWC pixels;
 * 2. resize: short side to `resizeShortSide` then centre crop `centerCrop` (the classifier recipe), or the
 *    whole frame squeezed to the input size; bilinear, in the decoding pipeline, so a large JPEG is decoded
 *    at 1/2, 1/4 or 1/8 scale by libjpeg (shrink-on-load; sharp takes 1/2 only from a shrink of 3 on both
 *    axes, so a 640×480 frame or a photo under 672 px on its short side is decoded whole: docs/dedupe.md,
 *    "Where the decode time goes");
 * 3. layout: sRGB or gray, alpha removed, exactly the model's channel count, HWC uint8;
 * 4. tensor: planar CHW float32 pixel/255 (the graphs apply their own normalisation).
 */
import { imageSize as headerSize } from 'image-size';
import sharp from 'sharp';

/** An image to decode: encoded bytes, or raw HWC pixels of a ring frame. */
export type ImageInput =
  | {
      encoded: Uint8Array;
      /**
       * Size from the frame header (ring frames): saves parsing the image header again. Such frames are
       * taken as stored (no EXIF rotation), so the size stays true.
       */
      size?: { width: number; height: number };
      /**
       * What makes a damaged file an error (sharp's `failOn`): `error` (default) accepts a file libjpeg
       * only warns about; `warning` rejects it too (the registry's `preprocessImage`).
       */
      failOn?: 'error' | 'warning';
    }
  | { raw: Uint8Array; width: number; height: number; channels: 1 | 3 | 4 };

/** How a model wants its pixels: its input size and channels, and the manifest's resize recipe. */
export interface PixelRecipe {
  width: number;
  height: number;
  channels: 1 | 3;
  /** Short side to this many pixels first (aspect kept)… */
  resizeShortSide?: number;
  /** …then the centre square of this side; without `resizeShortSide` the whole frame is squeezed. */
  centerCrop?: number;
}

/** The recipe of a model's input (`channels` other than 1 means RGB) and its manifest's resize steps. */
export function pixelRecipeOf(
  input: { width: number; height: number; channels: number },
  preprocess: { resizeShortSide?: number; centerCrop?: number } = {},
): PixelRecipe {
  const { resizeShortSide, centerCrop } = preprocess;
  return {
    width: input.width,
    height: input.height,
    channels: input.channels === 1 ? 1 : 3,
    ...(resizeShortSide ? { resizeShortSide } : {}),
    ...(centerCrop ? { centerCrop } : {}),
  };
}

/** Largest decoded image accepted (pixels): a decompression bomb is an error, not an out-of-memory. */
const MAX_INPUT_PIXELS = 1 << 28;

/** Step 1: a sharp pipeline on the decoded image. */
export function openImage(input: ImageInput): sharp.Sharp {
  if ('encoded' in input) {
    // A truncated or corrupt file is an error, not a half-grey picture.
    const image = sharp(input.encoded, {
      failOn: input.failOn ?? 'error',
      limitInputPixels: MAX_INPUT_PIXELS,
    });
    return input.size ? image : image.rotate();
  }
  return sharp(input.raw, { raw: { width: input.width, height: input.height, channels: input.channels } });
}

/** Displayed (EXIF-oriented) size of an image; a ring frame's is the one its header gave. */
export async function imageSize(input: ImageInput): Promise<{ width: number; height: number }> {
  if (!('encoded' in input)) return { width: input.width, height: input.height };
  if (input.size) return input.size;
  const fromHeader = jpegSize(input.encoded);
  if (fromHeader) return fromHeader;
  const meta = await sharp(input.encoded, { failOn: input.failOn ?? 'error' }).metadata();
  if (!meta.width || !meta.height) throw new Error('no image size in the header');
  return oriented(meta.width, meta.height, meta.orientation);
}

/**
 * The displayed size of a JPEG read from its header (SOF and EXIF orientation) in this thread: a sharp
 * `metadata()` call costs a libvips pipeline and a thread-pool round trip (docs/dedupe.md, "Where the
 * decode time goes"). Other formats (a PNG's orientation sits in a chunk this parser does not read), and any
 * header it does not take, go to sharp.
 */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  try {
    const header = headerSize(bytes);
    if (header.type !== 'jpg' || !header.width || !header.height) return undefined;
    return oriented(header.width, header.height, header.orientation);
  } catch {
    return undefined;
  }
}

/** Stored size → displayed size: EXIF orientations 5-8 swap width and height. */
function oriented(width: number, height: number, orientation = 1): { width: number; height: number } {
  return orientation >= 5 ? { width: height, height: width } : { width, height };
}

/**
 * Steps 1-3: the image as the model's input pixels, HWC uint8, exactly `recipe.width`×`recipe.height`×
 * `recipe.channels` (a gray image for an RGB model has its band repeated). `size` is the image's displayed
 * size when the caller already knows it.
 */
export async function modelPixels(
  input: ImageInput,
  recipe: PixelRecipe,
  size?: { width: number; height: number },
): Promise<Uint8Array> {
  const { width, height, channels } = recipe;
  let image = openImage(input);
  if (recipe.resizeShortSide) {
    const { width: w0, height: h0 } = size ?? (await imageSize(input));
    const scale = recipe.resizeShortSide / Math.min(w0, h0);
    const w1 = Math.max(1, Math.round(w0 * scale));
    const h1 = Math.max(1, Math.round(h0 * scale));
    image = image.resize(w1, h1, { fit: 'fill', kernel: 'linear' });
    if (recipe.centerCrop) {
      const crop = Math.min(recipe.centerCrop, w1, h1);
      image = image.extract({
        left: Math.floor((w1 - crop) / 2),
        top: Math.floor((h1 - crop) / 2),
        width: crop,
        height: crop,
      });
    }
  } else {
    image = image.resize(width, height, { fit: 'fill', kernel: 'linear' });
  }
  image = image.removeAlpha();
  image = channels === 1 ? image.grayscale() : image.toColourspace('srgb');
  let { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) {
    // One sharp pipeline holds one resize: fitting a crop smaller than the input is a second pass.
    ({ data, info } = await sharp(data, {
      raw: { width: info.width, height: info.height, channels: info.channels },
    })
      .resize(width, height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true }));
  }
  return withChannels(data, width * height, info.channels, channels);
}

/** Interleaved pixels with `outChannels` bands: the first ones kept, a single band repeated. */
function withChannels(data: Uint8Array, plane: number, inChannels: number, outChannels: number): Uint8Array {
  if (inChannels === outChannels) return data;
  const out = new Uint8Array(plane * outChannels);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < outChannels; c++)
      out[p * outChannels + c] = data[p * inChannels + Math.min(c, inChannels - 1)]!;
  }
  return out;
}

/**
 * Step 4: interleaved uint8 HWC pixels → planar float32 CHW in [0,1], taking the first `outChannels`
 * channels (a single one repeated). Written into `target` at `offset` when given, else into a new array.
 */
export function hwcToNchw(
  data: Uint8Array,
  width: number,
  height: number,
  inChannels: number,
  outChannels: number,
  target: Float32Array = new Float32Array(outChannels * width * height),
  offset = 0,
): Float32Array {
  const plane = width * height;
  const scale = 1 / 255; // x * (1/255) rounds to the same float32 as x / 255 for every byte x
  if (inChannels === 3 && outChannels === 3) {
    // The photo case: one pass over the pixels instead of one strided pass per channel.
    for (let i = 0, s = 0, d = offset; i < plane; i++, s += 3, d++) {
      target[d] = data[s]! * scale;
      target[d + plane] = data[s + 1]! * scale;
      target[d + 2 * plane] = data[s + 2]! * scale;
    }
    return target;
  }
  for (let c = 0; c < outChannels; c++) {
    const src = Math.min(c, inChannels - 1);
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) target[base + i] = data[i * inChannels + src]! * scale;
  }
  return target;
}

/** Steps 1-4 for one image: the model's input as NCHW float32 pixel/255. */
export async function modelInput(
  input: ImageInput,
  recipe: PixelRecipe,
  size?: { width: number; height: number },
): Promise<Float32Array> {
  const pixels = await modelPixels(input, recipe, size);
  return hwcToNchw(pixels, recipe.width, recipe.height, recipe.channels, recipe.channels);
}
