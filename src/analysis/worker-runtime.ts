/**
 * What an analysis worker is, whether it runs as a thread (worker.ts) or a process (process-worker.ts):
 * it attaches the frame ring once, owns its ONNX Runtime session per model, and dispatches every task by
 * `kind` to its handler module.
 */
import sharp from 'sharp';
import { FrameRing } from '../common/frame-ring.js';
import { setLogLevel, type LogLevel } from '../common/logger.js';
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
  /** A process worker's log level (a thread shares its process's logger). */
  logLevel?: LogLevel;
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

/**
 * A worker's task runner: `id` names it in results (a thread's id, or a process's pid). Tasks run one
 * after another: the pool hands each worker its next task while the current one runs (so the worker
 * never idles waiting for the main thread), and the handlers share the worker's scratch tensor and
 * sessions, which must not interleave (ONNX Runtime's run yields with setImmediate).
 */
export function workerRuntime(
  data: AnalysisWorkerData,
  id: number,
): (task: AnalysisTask) => Promise<unknown> {
  // libvips gets one thread per worker: the pool already spreads work over the cores.
  sharp.concurrency(1);
  if (data.logLevel) setLogLevel(data.logLevel);
  const models = new Map<string, Promise<WorkerModel>>();
  let attachedRingId = -1;
  let scratchBuffer = new Float32Array(0);

  const context: WorkerContext = {
    threadId: id,
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

  async function dispatch(task: AnalysisTask): Promise<unknown> {
    const load = HANDLERS[task.kind] as
      | (() => Promise<{ handle: (t: AnalysisTask, c: WorkerContext) => Promise<unknown> }>)
      | undefined;
    if (!load) {
      throw new Error(
        `analysis worker: unknown task kind ${JSON.stringify((task as { kind: unknown }).kind)}`,
      );
    }
    if (task.ring && task.ring.id !== attachedRingId) {
      context.ring = FrameRing.attach(task.ring.buffer);
      attachedRingId = task.ring.id;
    }
    const { handle } = await load();
    return handle(task, context);
  }

  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const result = tail.then(() => dispatch(task));
    tail = result.catch(() => undefined);
    return result;
  };
}
