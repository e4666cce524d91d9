/**
 * The typed task/result unions of the analysis worker pool. A task names its `kind`; the worker looks the
 * kind up in its dispatch table (worker.ts) and hands the task to that handler module (tasks/<kind>.ts).
 * To add a task: add its task and result types to `TaskMap` and a line to the table in worker.ts.
 *
 * Frames travel by reference: a task names slots of the frame ring, whose SharedArrayBuffer the worker
 * got at start-up (workerData) or gets with the task (`ring`, a pool whose ring was attached after its
 * models were warmed); sharing a buffer in a message does not copy it.
 */
import type { FrameRing } from '../common/frame-ring.js';
import type { InferenceSession } from 'onnxruntime-node';
import type { ImagesResult, ImagesTask } from './tasks/images.js';

/**
 * Which model a task runs: a manifest name (models/manifests/<name>.json, resolved with loadModel), or
 * an explicit ONNX file with its input shape (tests and ad-hoc models).
 */
export type ModelRef =
  | string
  | {
      path: string;
      input: { name?: string; channels: number; height: number; width: number };
      outputs: { logits?: string; embedding?: string };
    };

/** Classify (and optionally embed) the frames in `slots`, in that order. */
export interface ClassifyTask {
  kind: 'classify';
  model: ModelRef;
  /** Ring slot indices, in the order results are wanted. */
  slots: Int32Array;
  /** Side buffers of oversize frames among `slots` (FrameRing's side path), as [slot, buffer] pairs. */
  sidecars?: Array<[number, SharedArrayBuffer]>;
  /** Also return the embedding output. */
  embedding?: boolean;
}

/** A frame of a batch that could not be analysed (e.g. an undecodable JPEG); the rest of the batch is. */
export interface FrameFailure {
  /** Index into the task's slots. */
  index: number;
  reason: string;
  message: string;
}

export interface ClassifyResult {
  /** Predicted class per slot; -1 for a failed frame. */
  labels: Int32Array;
  /** Softmax probability of the predicted class per slot; 0 for a failed frame. */
  confidences: Float32Array;
  /** Row-major [slots × embeddingDim] when asked and the model has an embedding output, else null. */
  embeddings: Float32Array | null;
  embeddingDim: number;
  failed: FrameFailure[];
  /** Wall time of session.run for the batch. */
  inferMs: number;
  /** Wall time of turning the frames into the input tensor (scaling, or decoding and resizing). */
  prepMs: number;
  threadId: number;
}

/** Loads the model in a worker and runs one dummy frame, so a bad model fails before streaming. */
export interface WarmupTask {
  kind: 'warmup';
  model: ModelRef;
}

export interface WarmupResult {
  threadId: number;
  modelPath: string;
  sha256: string | null;
  input: { channels: number; height: number; width: number };
  outputs: { logits?: string; embedding?: string };
}

/** A frame ring as tasks carry it: the worker attaches it once per `id` and reuses the views. */
export interface RingHandle {
  id: number;
  buffer: SharedArrayBuffer;
}

/** Every task kind with its task and result type. */
export interface TaskMap {
  classify: { task: ClassifyTask; result: ClassifyResult };
  warmup: { task: WarmupTask; result: WarmupResult };
  /** Dedupe features of photos/camera frames (tasks/images.ts, issue 5). */
  images: { task: ImagesTask; result: ImagesResult };
}

export type TaskKind = keyof TaskMap;
export type AnalysisTask = TaskMap[TaskKind]['task'] & { ring?: RingHandle };
export type ResultOf<T extends AnalysisTask> = TaskMap[T['kind']]['result'];

/** A model as a worker holds it: one ONNX Runtime session per worker per model. */
export interface WorkerModel {
  session: InferenceSession;
  path: string;
  sha256: string | null;
  inputName: string;
  input: { channels: number; height: number; width: number };
  outputs: { logits?: string; embedding?: string };
  /** Photo preprocessing of the manifest (resize the short side, centre-crop); absent = resize to fit. */
  preprocess?: { resizeShortSide?: number; centerCrop?: number; colorspace?: 'srgb' | 'gray' };
}

/** Test-only behaviour of the worker (set by tests through pool options or FRAMESIFT_TEST_* variables). */
export interface WorkerTestHooks {
  /** Sleep this long before each classify batch (a slow worker). */
  delayMs?: number;
  /** Throw on the n-th classify batch (1-based) this worker runs. */
  failBatch?: number;
}

/** What a handler gets besides its task. */
export interface WorkerContext {
  threadId: number;
  /** The frame ring: the pool's from start-up, or the one the current task carries. */
  ring: FrameRing | undefined;
  modelsDir: string;
  intraOpThreads: number;
  testHooks: WorkerTestHooks;
  /** The model's session in this worker, loaded on first use and then cached. */
  model(ref: ModelRef): Promise<WorkerModel>;
  /** A reusable Float32Array of at least `length` elements (one per worker, grown on demand). */
  scratch(length: number): Float32Array;
  /** Classify batches run so far by this worker (test hooks count on it). */
  classifyBatches: number;
}

export type TaskHandler<K extends TaskKind> = (
  task: TaskMap[K]['task'],
  context: WorkerContext,
) => Promise<TaskMap[K]['result']>;
