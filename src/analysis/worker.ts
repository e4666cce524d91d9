/**
 * The analysis worker (a Piscina worker module). Each worker attaches the frame ring once (workerData),
 * owns its ONNX Runtime session per model, and dispatches every task by `kind` to its handler module.
 */
import { threadId, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { FrameRing } from '../common/frame-ring.js';
import type {
  AnalysisTask,
  ModelRef,
  TaskKind,
  TaskMap,
  WorkerContext,
  WorkerModel,
  WorkerTestHooks,
} from './tasks.js';
import { modelKey, openWorkerModel } from './worker-models.js';

/** What the pool passes to every worker at start-up. */
export interface AnalysisWorkerData {
  ringBuffer?: SharedArrayBuffer;
  modelsDir: string;
  intraOpThreads: number;
  testHooks?: WorkerTestHooks;
}

/** The dispatch table: task kind → handler module (loaded on first use). */
const HANDLERS: {
  [K in TaskKind]: () => Promise<{
    handle: (task: TaskMap[K]['task'], context: WorkerContext) => Promise<TaskMap[K]['result']>;
  }>;
} = {
  classify: () => import('./tasks/classify.js'),
  warmup: () => import('./tasks/warmup.js'),
  images: () => import('./tasks/images.js'),
};

const data = workerData as AnalysisWorkerData;
// libvips gets one thread per worker: the pool already spreads work over the cores.
sharp.concurrency(1);

const models = new Map<string, Promise<WorkerModel>>();
let attachedRingId = -1;
let scratchBuffer = new Float32Array(0);

const context: WorkerContext = {
  threadId,
  ring: data.ringBuffer ? FrameRing.attach(data.ringBuffer) : undefined,
  modelsDir: data.modelsDir,
  intraOpThreads: data.intraOpThreads,
  testHooks: data.testHooks ?? {},
  classifyBatches: 0,
  model(ref: ModelRef): Promise<WorkerModel> {
    const key = modelKey(ref);
    let model = models.get(key);
    if (!model) {
      model = openWorkerModel(ref, { modelsDir: data.modelsDir, intraOpThreads: data.intraOpThreads });
      // A failed load is not cached, so the error is reported again rather than a stale promise reused.
      model.catch(() => models.delete(key));
      models.set(key, model);
    }
    return model;
  },
  scratch(length: number): Float32Array {
    if (scratchBuffer.length < length) scratchBuffer = new Float32Array(length);
    return scratchBuffer;
  },
};

/**
 * Tasks run one after another in a worker: the pool hands each worker its next task while the current
 * one runs (so the worker never idles waiting for the main thread), and the handlers share the worker's
 * scratch tensor and sessions, which must not interleave (ONNX Runtime's run yields with setImmediate).
 */
let tail: Promise<unknown> = Promise.resolve();

export default function runTask(task: AnalysisTask): Promise<unknown> {
  const result = tail.then(() => dispatch(task));
  tail = result.catch(() => undefined);
  return result;
}

async function dispatch(task: AnalysisTask): Promise<unknown> {
  const load = HANDLERS[task.kind] as
    | (() => Promise<{ handle: (t: AnalysisTask, c: WorkerContext) => Promise<unknown> }>)
    | undefined;
  if (!load) {
    throw new Error(`analysis worker: unknown task kind ${JSON.stringify((task as { kind: unknown }).kind)}`);
  }
  if (task.ring && task.ring.id !== attachedRingId) {
    context.ring = FrameRing.attach(task.ring.buffer);
    attachedRingId = task.ring.id;
  }
  const { handle } = await load();
  return handle(task, context);
}
