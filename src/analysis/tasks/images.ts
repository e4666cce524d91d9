/**
 * Dedupe features of photos and camera frames, computed on the workers: decode with sharp (EXIF-oriented,
 * sRGB), then per method
 * - cnn: short side 256 (bilinear), centre crop 224, pixel/255 NCHW float32 → the model's `embedding`;
 * - phash: 32×32 gray → 64-bit perceptual hash;
 * - mse: 16×16 gray thumbnail scaled to [0, 1];
 * - change: gray, resized, border cropped, blurred (the prep of the change rule; the score itself depends
 *   on the last kept frame, so the main thread takes it in seq order).
 * Frames come either as files (batch `framesift dedupe`) or as frame-ring slots (a live run).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { errorMessage } from '../../common/errors.js';
import type { FrameImage } from '../../common/frame-image.js';
import {
  DEFAULT_CHANGE_OPTIONS,
  MSE_THUMB_SIZE,
  PHASH_INPUT_SIZE,
  borderCrop,
  hashToHex,
  perceptualHash,
  type ChangeOptions,
  type GrayImage,
  type Method,
} from '../../dedupe/features.js';
import { top1Rows } from '../logits.js';
import { hwcToNchw, imageSize, modelPixels, openImage, type ImageInput } from '../preprocess.js';
import type { FrameFailure, ModelRef, WorkerContext } from '../tasks.js';

export { imageSize, type ImageInput } from '../preprocess.js';

/** Compute the dedupe features of a batch of images. */
export interface ImagesTask {
  kind: 'images';
  method: Method;
  /** The embedding model (cnn only); a manifest name such as `mobilenet-v3-small-075`. */
  model?: ModelRef;
  /** Image files to read and decode (batch dedupe)… */
  files?: string[];
  /** …or encoded images (video frames, uploads)… */
  encoded?: Uint8Array[];
  /** files: also return each file's sha256 (the index records it; the file is read here anyway). */
  sha256?: boolean;
  /** …or frame-ring slots (a live run), with side buffers of oversize frames… */
  slots?: Int32Array;
  sidecars?: Array<[number, SharedArrayBuffer]>;
  /** …or copies of ring frames (a live run on a pool of processes, which cannot see the ring). */
  frames?: FrameImage[];
  change?: ChangeOptions;
  /** cnn with a classifier model (mobilenet-v2): also return the top-1 class of each image. */
  labels?: boolean;
  /** cnn: how a photo becomes its feature (default DEFAULT_CNN_RECIPE). */
  recipe?: CnnRecipe;
}

export interface ImagesResult {
  count: number;
  /**
   * cnn: row-major [count × embeddingDim], raw model output (not normalised) of the recipe's view.
   */
  embeddings: Float32Array | null;
  embeddingDim: number;
  /** With `labels`: top-1 class index (-1 for a failed image) and its softmax probability. */
  labels: Int32Array | null;
  confidences: Float32Array | null;
  /** cnn with a layout recipe: row-major [count × 256] layout thumbnails (`layoutThumbnail`). */
  layouts: Float32Array | null;
  /** mse: row-major [count × 256] thumbnails in [0, 1]. */
  thumbnails: Float32Array | null;
  /** phash: 16 hex digits per item ('' for a failed one). */
  hashes: string[] | null;
  /** change: prepared gray frames (null for a failed one). */
  grays: (GrayImage | null)[] | null;
  /** Original width/height per item (0 for a failed one). */
  sizes: Int32Array;
  /** With `sha256`: the hex sha256 of each file's bytes ('' when it could not be read). */
  sha256s: string[] | null;
  failed: FrameFailure[];
  prepMs: number;
  inferMs: number;
  threadId: number;
}

/**
 * Binary Netpbm (P4 bitmap, P5 gray, P6 RGB; maxval ≤ 255) as raw pixels: libvips as bundled with sharp
 * has no PPM loader, and these formats are common in image folders.
 */
export function decodeNetpbm(
  bytes: Uint8Array,
): { raw: Uint8Array; width: number; height: number; channels: 1 | 3 } | undefined {
  if (bytes.length < 3 || bytes[0] !== 0x50 || bytes[1]! < 0x34 || bytes[1]! > 0x36) return undefined;
  const kind = bytes[1]! - 0x30;
  const fields: number[] = [];
  let i = 2;
  const wanted = kind === 4 ? 2 : 3;
  while (fields.length < wanted) {
    const c = bytes[i];
    if (c === undefined) throw new Error('truncated Netpbm header');
    if (c === 0x23) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++; // comment to end of line
    } else if (c >= 0x30 && c <= 0x39) {
      let v = 0;
      while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) v = v * 10 + bytes[i++]! - 0x30;
      fields.push(v);
      continue;
    }
    i++;
  }
  i++; // the single whitespace after the header
  const [width, height, maxval = 1] = fields as [number, number, number?];
  if (!width || !height || maxval > 255 || maxval < 1) throw new Error('unsupported Netpbm header');
  const channels = kind === 6 ? 3 : 1;
  const raw = new Uint8Array(width * height * channels);
  if (kind === 4) {
    const rowBytes = Math.ceil(width / 8);
    if (bytes.length < i + rowBytes * height) throw new Error('truncated Netpbm data');
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = (bytes[i + y * rowBytes + (x >> 3)]! >> (7 - (x & 7))) & 1;
        raw[y * width + x] = bit ? 0 : 255; // 1 = black
      }
    }
  } else {
    if (bytes.length < i + raw.length) throw new Error('truncated Netpbm data');
    const scale = 255 / maxval;
    for (let k = 0; k < raw.length; k++) raw[k] = Math.round(bytes[i + k]! * scale);
  }
  return { raw, width, height, channels };
}

/**
 * How the cnn method turns a photo into its feature (docs/dedupe.md, "The cnn recipe"):
 * - `frame`: `fill` squeezes the whole frame to the model's 224×224 (nothing cut away, so crops, small
 *   rotations and resizes keep the borders they share with the original); `crop` is the classifier recipe
 *   (short side 256, centre crop 224).
 * - `landscape`: a portrait image is turned a quarter turn clockwise first, so a copy turned by 90° or
 *   270° lines up with its original up to a half turn, which the embedding tolerates.
 * - `layout`: also return the layout thumbnail of the same view (`layoutThumbnail`), the second half of the
 *   cnn rule that catches colour loss, blur and tiny thumbnails.
 */
export interface CnnRecipe {
  frame: 'fill' | 'crop';
  landscape: boolean;
  layout: boolean;
}

/** The measured default (docs/dedupe.md). */
export const DEFAULT_CNN_RECIPE: CnnRecipe = { frame: 'fill', landscape: true, layout: true };

/** The recipe before it was measured: centre crop, as stored, embedding only. */
export const CENTRE_CROP_RECIPE: CnnRecipe = { frame: 'crop', landscape: false, layout: false };

/** Side of the square model input of the photo embedders. */
export const PHOTO_INPUT_SIZE = 224;

/** Side of the layout thumbnail (224 = 16 × 14: each cell averages a 14×14 block of the view). */
export const LAYOUT_SIZE = 16;

/**
 * Reference photo preprocessing (the classifier recipe): short side → `shortSide`, centre crop
 * `crop`×`crop`, sRGB HWC uint8, through the one preprocessing path (`modelPixels`).
 */
export function photoPixels(
  input: ImageInput,
  shortSide = 256,
  crop = 224,
  size?: { width: number; height: number },
): Promise<Uint8Array> {
  const recipe = {
    width: crop,
    height: crop,
    channels: 3,
    resizeShortSide: shortSide,
    centerCrop: crop,
  } as const;
  return modelPixels(input, recipe, size);
}

/** The whole frame squeezed to `side`×`side` (bilinear), sRGB HWC uint8 (`modelPixels`). */
export function wholeFramePixels(input: ImageInput, side = PHOTO_INPUT_SIZE): Promise<Uint8Array> {
  return modelPixels(input, { width: side, height: side, channels: 3 });
}

/** A square HWC RGB image turned a quarter turn clockwise. */
export function quarterTurn(pixels: Uint8Array, side: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      // source (x, y) lands at (side - 1 - y, x)
      const s = 3 * (y * side + x);
      const d = 3 * (x * side + (side - 1 - y));
      out[d] = pixels[s]!;
      out[d + 1] = pixels[s + 1]!;
      out[d + 2] = pixels[s + 2]!;
    }
  }
  return out;
}

/**
 * The layout thumbnail of a 224×224 HWC RGB view: Rec. 601 luma averaged over 14×14 blocks (16×16), made
 * symmetric under left/right and up/down flips (each cell plus its three mirror cells), minus its mean,
 * scaled to unit length. Its cosine distance between a photo and a grayscale, blurred, re-encoded,
 * brightened or tiny copy stays near 0, while two different photos of one kind of scene differ in layout.
 */
export function layoutThumbnail(pixels: Uint8Array, side = PHOTO_INPUT_SIZE): Float32Array {
  return layoutFromCells(layoutCells(pixels, side));
}

/** The thumbnail's cells: each 14×14 block's summed Rec. 601 luma, row-major. */
export function layoutCells(pixels: Uint8Array, side = PHOTO_INPUT_SIZE): Float32Array {
  const n = LAYOUT_SIZE;
  const block = side / n;
  if (!Number.isInteger(block)) throw new Error(`layout thumbnail: side ${side} is not a multiple of ${n}`);
  const cells = new Float32Array(n * n);
  // Each cell sums its pixels row by row, left to right, rounding to float32 after every addition (as a
  // Float32Array store does): the same sums, bit for bit, as adding pixel by pixel into `cells`.
  let i = 0;
  for (let y = 0; y < side; y++) {
    const row = Math.floor(y / block) * n;
    for (let cell = row; cell < row + n; cell++) {
      let sum = cells[cell]!;
      for (let k = 0; k < block; k++, i += 3)
        sum = Math.fround(sum + (0.299 * pixels[i]! + 0.587 * pixels[i + 1]! + 0.114 * pixels[i + 2]!));
      cells[cell] = sum;
    }
  }
  return cells;
}

/** Cells → the thumbnail: folded over both mirror axes, centred, scaled to unit length. */
export function layoutFromCells(cells: Float32Array): Float32Array {
  const n = LAYOUT_SIZE;
  const out = new Float32Array(n * n);
  let mean = 0;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v =
        cells[y * n + x]! +
        cells[y * n + n - 1 - x]! +
        cells[(n - 1 - y) * n + x]! +
        cells[(n - 1 - y) * n + n - 1 - x]!;
      out[y * n + x] = v;
      mean += v;
    }
  }
  mean /= n * n;
  let sum = 0;
  for (let k = 0; k < out.length; k++) {
    out[k] = out[k]! - mean;
    sum += out[k]! ** 2;
  }
  // A flat image has no layout: leave it all zero (cosine distance 1 to everything, see l2Normalize).
  const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let k = 0; k < out.length; k++) out[k] = out[k]! * inv;
  return out;
}

/** The recipe's model input of one image (HWC RGB, 224×224). */
export async function recipeView(
  input: ImageInput,
  recipe: CnnRecipe,
  size: { width: number; height: number },
): Promise<Uint8Array> {
  const side = PHOTO_INPUT_SIZE;
  const pixels =
    recipe.frame === 'fill' ? await wholeFramePixels(input, side) : await photoPixels(input, 256, side, size);
  return recipe.landscape && size.height > size.width ? quarterTurn(pixels, side) : pixels;
}

/** Gray `size`×`size` thumbnail of the whole image (aspect ratio ignored). */
export async function grayThumbnail(input: ImageInput, size: number): Promise<Uint8Array> {
  const { data, info } = await openImage(input)
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .removeAlpha()
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`expected one gray band, got ${info.channels}`);
  return data;
}

export async function phashOf(input: ImageInput): Promise<bigint> {
  return perceptualHash(await grayThumbnail(input, PHASH_INPUT_SIZE));
}

export async function mseThumbnailOf(input: ImageInput): Promise<Float32Array> {
  const gray = await grayThumbnail(input, MSE_THUMB_SIZE);
  const out = new Float32Array(gray.length);
  for (let i = 0; i < gray.length; i++) out[i] = gray[i]! / 255;
  return out;
}

/** The worker half of the change rule: gray, resize, border crop, blur. */
export async function changePrep(
  input: ImageInput,
  options: ChangeOptions = DEFAULT_CHANGE_OPTIONS,
): Promise<GrayImage> {
  const size = await imageSize(input);
  let w = size.width;
  let h = size.height;
  let pipeline = openImage(input).removeAlpha().greyscale();
  if (options.resizeWidth > 0 && options.resizeWidth !== w) {
    h = Math.max(1, Math.round((h * options.resizeWidth) / w));
    w = options.resizeWidth;
    pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'linear' });
  }
  const crop = borderCrop(w, h, options.borderPercent);
  if (crop.width !== w || crop.height !== h) pipeline = pipeline.extract(crop);
  if (options.blurSigma > 0) pipeline = pipeline.blur(Math.max(0.3, options.blurSigma));
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`expected one gray band, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/** HWC uint8 RGB → planar CHW float32 pixel/255 at `offset` of `target`. */
export function rgbToChw(pixels: Uint8Array, target: Float32Array, offset: number, plane: number): void {
  hwcToNchw(pixels, plane, 1, 3, 3, target, offset);
}

async function inputsOf(
  task: ImagesTask,
  context: WorkerContext,
  sha256s: string[] | null,
): Promise<Array<ImageInput | Error>> {
  if (task.encoded) return task.encoded.map((encoded) => ({ encoded }));
  if (task.files) {
    return Promise.all(
      task.files.map((file, i) =>
        readFile(file).then(
          (buf): ImageInput | Error => {
            if (sha256s) sha256s[i] = createHash('sha256').update(buf).digest('hex');
            try {
              return decodeNetpbm(buf) ?? { encoded: buf };
            } catch (err) {
              return new Error(`${file}: not a readable image (${errorMessage(err)})`);
            }
          },
          (err: unknown) => new Error(`${file}: cannot be read (${errorMessage(err)})`),
        ),
      ),
    );
  }
  if (task.frames) return task.frames.map(frameInput);
  if (!task.slots) throw new Error('images task: give files, encoded images, frames or slots');
  const ring = context.ring;
  if (!ring) throw new Error('images task: the pool was created without a frame ring');
  const sidecars = task.sidecars ? new Map(task.sidecars) : undefined;
  return Array.from(task.slots, (slot) => frameInput(ring.frame(slot, sidecars?.get(slot))));
}

/** A stream frame as sharp's input: raw pixels, or encoded bytes taken as stored (the header's size). */
function frameInput(frame: FrameImage): ImageInput {
  return frame.encoding === 0
    ? { raw: frame.data, width: frame.width, height: frame.height, channels: frame.channels as 1 | 3 }
    : { encoded: frame.data, size: { width: frame.width, height: frame.height } };
}

/** Frames per inference run inside a task. */
export const EMBED_CHUNK = 16;

export async function handle(task: ImagesTask, context: WorkerContext): Promise<ImagesResult> {
  const prepStart = performance.now();
  const sha256s = task.sha256 && task.files ? new Array<string>(task.files.length).fill('') : null;
  const inputs = await inputsOf(task, context, sha256s);
  const n = inputs.length;
  const failed: FrameFailure[] = [];
  const sizes = new Int32Array(2 * n);
  const fail = (index: number, err: unknown) =>
    failed.push({ index, reason: 'undecodable', message: errorMessage(err) });

  let embeddings: Float32Array | null = null;
  let embeddingDim = 0;
  let labels: Int32Array | null = null;
  let confidences: Float32Array | null = null;
  let thumbnails: Float32Array | null = null;
  let layouts: Float32Array | null = null;
  let hashes: string[] | null = null;
  let grays: (GrayImage | null)[] | null = null;
  let inferMs = 0;
  let prepMs = performance.now() - prepStart;
  const plane = PHOTO_INPUT_SIZE * PHOTO_INPUT_SIZE;
  const recipe = task.recipe ?? DEFAULT_CNN_RECIPE;
  // Labels (--describe) come from the classifier's own recipe (centre crop).
  const cnnRecipe = task.labels ? CENTRE_CROP_RECIPE : recipe;
  const model =
    task.method === 'cnn' ? await context.model(task.model ?? 'mobilenet-v3-small-075') : undefined;
  const output = model?.outputs.embedding;
  const logitsOutput = task.labels ? model?.outputs.logits : undefined;
  if (task.labels && model && !logitsOutput)
    throw new Error(`model ${model.path} has no logits output to describe with`);
  if (logitsOutput) {
    labels = new Int32Array(n).fill(-1);
    confidences = new Float32Array(n);
  }
  if (model) {
    if (!output) throw new Error(`model ${model.path} has no embedding output`);
    if (model.input.height !== 224 || model.input.width !== 224 || model.input.channels !== 3) {
      throw new Error(`model ${model.path}: photo embedding needs a 3×224×224 input`);
    }
  }
  if (task.method === 'mse') thumbnails = new Float32Array(n * MSE_THUMB_SIZE * MSE_THUMB_SIZE);
  if (task.method === 'phash') hashes = new Array<string>(n).fill('');
  if (task.method === 'change') grays = new Array<GrayImage | null>(n).fill(null);

  // Inference runs on chunks of EMBED_CHUNK frames whatever the task's size: MobileNet is fastest per frame
  // at small batches, and the input tensor stays small.
  for (let chunkStart = 0; chunkStart < n; chunkStart += EMBED_CHUNK) {
    const chunkEnd = Math.min(n, chunkStart + EMBED_CHUNK);
    const chunkLength = chunkEnd - chunkStart;
    const input = model
      ? context.scratch(chunkLength * 3 * plane).subarray(0, chunkLength * 3 * plane)
      : undefined;
    const chunkPrepStart = performance.now();
    // Items are decoded one after another: sharp runs on this worker's single libvips thread.
    for (let i = chunkStart; i < chunkEnd; i++) {
      const item = inputs[i]!;
      const offset = (i - chunkStart) * 3 * plane;
      if (item instanceof Error) {
        fail(i, item);
        input?.fill(0, offset, offset + 3 * plane);
        continue;
      }
      try {
        const size = await imageSize(item);
        sizes[2 * i] = size.width;
        sizes[2 * i + 1] = size.height;
        switch (task.method) {
          case 'cnn': {
            const pixels = await recipeView(item, cnnRecipe, size);
            rgbToChw(pixels, input!, offset, plane);
            if (cnnRecipe.layout) {
              layouts ??= new Float32Array(n * LAYOUT_SIZE * LAYOUT_SIZE);
              layouts.set(layoutThumbnail(pixels), i * LAYOUT_SIZE * LAYOUT_SIZE);
            }
            break;
          }
          case 'mse':
            thumbnails!.set(await mseThumbnailOf(item), i * MSE_THUMB_SIZE * MSE_THUMB_SIZE);
            break;
          case 'phash':
            hashes![i] = hashToHex(await phashOf(item));
            break;
          case 'change':
            grays![i] = await changePrep(item, task.change);
            break;
        }
      } catch (err) {
        sizes[2 * i] = sizes[2 * i + 1] = 0;
        input?.fill(0, offset, offset + 3 * plane);
        const name = task.files
          ? task.files[i]!
          : task.encoded
            ? `image ${i + 1} of ${n}`
            : task.frames
              ? `frame ${i + 1} of ${n} in its batch`
              : `frame in slot ${task.slots![i]}`;
        fail(i, new Error(`${name}: not a readable image (${errorMessage(err)})`));
      }
    }
    prepMs += performance.now() - chunkPrepStart;
    if (model && output) {
      const inferStart = performance.now();
      const tensor = new ort.Tensor('float32', input!, [chunkLength, 3, PHOTO_INPUT_SIZE, PHOTO_INPUT_SIZE]);
      const fetches = logitsOutput ? [output, logitsOutput] : [output];
      const outputs = await model.session.run({ [model.inputName]: tensor }, fetches);
      inferMs += performance.now() - inferStart;
      const out = outputs[output]!;
      embeddingDim = out.dims[1]!;
      embeddings ??= new Float32Array(n * embeddingDim);
      embeddings.set(out.data as Float32Array, chunkStart * embeddingDim);
      if (logitsOutput) {
        const logits = outputs[logitsOutput]!;
        const classes = logits.dims[1]!;
        top1Rows(logits.data as Float32Array, chunkLength, classes, labels!, confidences!, chunkStart);
      }
      for (const value of Object.values(outputs)) value.dispose();
    }
  }
  for (const f of failed) if (labels) labels[f.index] = -1;
  return {
    count: n,
    embeddings,
    labels,
    confidences,
    embeddingDim,
    thumbnails,
    layouts,
    hashes,
    grays,
    sizes,
    sha256s,
    failed,
    prepMs,
    inferMs,
    threadId: context.threadId,
  };
}
