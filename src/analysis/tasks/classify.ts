/**
 * Classify (and optionally embed) a batch of frames read in place from the frame ring. Raw frames of the
 * model's own size go straight into the input tensor (pixel/255); any other size or an encoded frame is
 * decoded and resized here with sharp, on the worker, never on the main thread.
 */
import ort from 'onnxruntime-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingFrameView } from '../../common/frame-ring.js';
import { top1Rows } from '../logits.js';
import { hwcToNchw, modelInput, pixelRecipeOf, type ImageInput } from '../preprocess.js';
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
      hwcToNchw(bytes.subarray(src, src + perFrame), width, height, 1, 1, input, out);
      continue;
    }
    try {
      input.set(await toModelInput(ring.frame(slot, sidecars?.get(slot)), model), out);
    } catch (err) {
      input.fill(0, out, out + perFrame);
      failed.push({
        index: i,
        reason: 'undecodable',
        message: `frame ${ring.seqOf(slot)}: cannot be decoded as an image (${errorMessage(err)})`,
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
    top1Rows(logits.data as Float32Array, n, classes, labels, confidences);
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

/**
 * One frame as the model's input (NCHW float32, pixel/255), prepared by the model's recipe through the one
 * preprocessing path: an encoded frame is decoded as the registry's `preprocessImage` does (EXIF
 * orientation, strict), a raw frame of another size is resized from its pixels.
 */
function toModelInput(frame: RingFrameView, model: WorkerModel): Promise<Float32Array> {
  const input: ImageInput =
    frame.encoding !== 0
      ? { encoded: frame.data, failOn: 'warning' }
      : { raw: frame.data, width: frame.width, height: frame.height, channels: frame.channels as 1 | 3 };
  return modelInput(input, pixelRecipeOf(model.input, model.preprocess));
}
