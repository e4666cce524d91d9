/**
 * Classify (and optionally embed) a batch of frames read in place from the frame ring. Raw frames of the
 * model's own size go straight into the input tensor (pixel/255); any other size or an encoded frame is
 * decoded and resized here with sharp, on the worker, never on the main thread.
 */
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingFrameView } from '../../common/frame-ring.js';
import { errorMessage } from '../../common/errors.js';
import type { ClassifyResult, ClassifyTask, FrameFailure, WorkerContext, WorkerModel } from '../tasks.js';

export async function handle(task: ClassifyTask, context: WorkerContext): Promise<ClassifyResult> {
  context.classifyBatches++;
  const { testHooks } = context;
  if (testHooks.delayMs) await sleep(testHooks.delayMs);
  if (testHooks.failBatch !== undefined && context.classifyBatches === testHooks.failBatch) {
    throw new Error(`test hook: worker ${context.threadId} fails classify batch ${context.classifyBatches}`);
  }
  const ring = context.ring;
  if (!ring) throw new Error('classify task: the pool was created without a frame ring');
  const model = await context.model(task.model);
  const n = task.slots.length;
  const { channels, height, width } = model.input;
  const perFrame = channels * height * width;
  const input = context.scratch(n * perFrame).subarray(0, n * perFrame);
  const failed: FrameFailure[] = [];
  const sidecars = task.sidecars ? new Map(task.sidecars) : undefined;

  const prepStart = performance.now();
  const bytes = ring.dataBytes;
  const scale = 1 / 255;
  for (let i = 0; i < n; i++) {
    const slot = task.slots[i]!;
    const out = i * perFrame;
    if (
      ring.encodingOf(slot) === 0 &&
      !ring.isOversize(slot) &&
      ring.widthOf(slot) === width &&
      ring.heightOf(slot) === height &&
      ring.channelsOf(slot) === channels &&
      channels === 1
    ) {
      // Hot path: raw gray frame of the model's size, straight from the shared ring into the tensor.
      const src = ring.offsetOf(slot);
      for (let p = 0; p < perFrame; p++) input[out + p] = bytes[src + p]! * scale;
      continue;
    }
    try {
      const pixels = await toModelPixels(ring.frame(slot, sidecars?.get(slot)), model);
      writeChw(pixels, input, out, channels, height, width);
    } catch (err) {
      input.fill(0, out, out + perFrame);
      failed.push({
        index: i,
        reason: 'undecodable',
        message: `frame ${ring.seqOf(slot)}: ${errorMessage(err)}`,
      });
    }
  }
  const prepMs = performance.now() - prepStart;

  const fetches: string[] = [];
  if (model.outputs.logits) fetches.push(model.outputs.logits);
  const wantEmbedding = task.embedding === true && model.outputs.embedding !== undefined;
  if (wantEmbedding) fetches.push(model.outputs.embedding!);
  if (fetches.length === 0) throw new Error(`model ${model.path} has no logits output to classify with`);

  const inferStart = performance.now();
  const tensor = new ort.Tensor('float32', input, [n, channels, height, width]);
  const outputs = await model.session.run({ [model.inputName]: tensor }, fetches);
  const inferMs = performance.now() - inferStart;

  const labels = new Int32Array(n);
  const confidences = new Float32Array(n);
  if (model.outputs.logits) {
    const logits = outputs[model.outputs.logits]!;
    const classes = logits.dims[1]!;
    const values = logits.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = i * classes;
      let best = 0;
      let max = values[row]!;
      for (let c = 1; c < classes; c++) {
        const v = values[row + c]!;
        if (v > max) {
          max = v;
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(values[row + c]! - max);
      labels[i] = best;
      confidences[i] = 1 / sum;
    }
  }
  let embeddings: Float32Array | null = null;
  let embeddingDim = 0;
  if (wantEmbedding) {
    const out = outputs[model.outputs.embedding!]!;
    embeddingDim = out.dims[1]!;
    // Copy out of ORT's buffer: it is freed with the tensor.
    embeddings = new Float32Array(out.data as Float32Array);
  }
  for (const f of failed) {
    labels[f.index] = -1;
    confidences[f.index] = 0;
  }
  for (const value of Object.values(outputs)) value.dispose();
  return {
    labels,
    confidences,
    embeddings,
    embeddingDim,
    failed,
    inferMs,
    prepMs,
    threadId: context.threadId,
  };
}

/** Decodes/resizes one frame to the model's input size: HWC uint8 with the model's channel count. */
async function toModelPixels(frame: RingFrameView, model: WorkerModel): Promise<Uint8Array> {
  const { channels, height, width } = model.input;
  let image =
    frame.encoding === 0
      ? sharp(frame.data, {
          raw: { width: frame.width, height: frame.height, channels: frame.channels as 1 | 3 },
        })
      : sharp(frame.data, { failOn: 'error' }).rotate();
  const pre = model.preprocess;
  if (pre?.resizeShortSide) {
    // Manifest preprocessing: resize the short side, then centre-crop (the photo models' recipe).
    const meta = frame.encoding === 0 ? { width: frame.width, height: frame.height } : await image.metadata();
    const srcW = meta.width ?? width;
    const srcH = meta.height ?? height;
    const k = pre.resizeShortSide / Math.min(srcW, srcH);
    const rw = Math.max(1, Math.round(srcW * k));
    const rh = Math.max(1, Math.round(srcH * k));
    const crop = Math.min(pre.centerCrop ?? Math.min(width, height), rw, rh);
    image = image.resize(rw, rh, { fit: 'fill' }).extract({
      left: Math.floor((rw - crop) / 2),
      top: Math.floor((rh - crop) / 2),
      width: crop,
      height: crop,
    });
    if (crop !== width || crop !== height) {
      const cropped = await image.raw().toBuffer({ resolveWithObject: true });
      image = sharp(cropped.data, { raw: cropped.info }).resize(width, height, { fit: 'fill' });
    }
  } else {
    image = image.resize(width, height, { fit: 'fill' });
  }
  image = channels === 1 ? image.greyscale() : image.removeAlpha().toColourspace('srgb');
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== height) {
    throw new Error(
      `decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${channels}`,
    );
  }
  return data;
}

/** HWC uint8 → CHW float32 pixel/255, at `offset` of `target`. */
function writeChw(
  pixels: Uint8Array,
  target: Float32Array,
  offset: number,
  channels: number,
  height: number,
  width: number,
): void {
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) target[offset + c * plane + p] = pixels[p * channels + c]! / 255;
  }
}
