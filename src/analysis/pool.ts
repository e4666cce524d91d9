/**
 * The analysis worker pool: worker threads (Piscina), or child processes for work that travels by value
 * (`isolation: 'processes'`, process-pool.ts). Workers default to the available cores minus one (the main
 * thread does the socket I/O), at least one; each worker's ONNX Runtime sessions get intra-op threads so
 * that workers × intra-op threads never exceeds the cores.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { FrameRing } from '../common/frame-ring.js';
import { UserError, errorMessage } from '../common/errors.js';
import { logger, loggerFor, type LogLevel } from '../common/logger.js';
import { compiledSibling } from '../common/paths.js';
import { ProcessWorkers } from './process-pool.js';
import type { AnalysisTask, ModelRef, ResultOf, RingHandle, WarmupResult, WorkerTestHooks } from './tasks.js';
import type { AnalysisWorkerData } from './worker-runtime.js';

const log = loggerFor('analysis.pool');

export interface AnalysisPoolOptions {
  /** Worker threads (default: available cores - 1, at least 1). */
  threads?: number;
  /** ONNX Runtime intra-op threads per worker session (default: (cores - 1) / threads, at least 1). */
  intraOpThreads?: number;
  /** Where model files are looked up (MODELS_DIR). */
  modelsDir: string;
  /** The frame ring workers read frames from; attached once per worker at start-up. */
  ring?: FrameRing;
  /** Test-only worker behaviour; defaults from FRAMESIFT_TEST_WORKER_DELAY_MS / _FAIL_BATCH. */
  testHooks?: WorkerTestHooks;
  /**
   * `threads` (default) or `processes`: one child process per worker, for tasks that carry their input
   * (files, encoded images), which decode faster side by side in processes than in threads of one. A
   * process pool takes no frame ring.
   */
  isolation?: 'threads' | 'processes';
}

export interface AnalysisPool {
  /** Workers (threads or processes). */
  readonly threads: number;
  /** Threads read frames from the ring (slots); processes get copies (frames). */
  readonly isolation: 'threads' | 'processes';
  readonly intraOpThreads: number;
  /** Runs one task on a worker; rejects with the worker's error. */
  run<T extends AnalysisTask>(task: T): Promise<ResultOf<T>>;
  /** Loads `model` in every worker and runs a dummy frame; a bad model is a UserError naming it. */
  warmup(model: ModelRef): Promise<WarmupResult[]>;
  /**
   * Frames of later tasks come from `ring` (a pool created before the session's frame size was known:
   * its models are warmed first, then the ring sized from what the server announced is attached).
   */
  attachRing(ring: FrameRing): void;
  destroy(): Promise<void>;
}

export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/**
 * Intra-op threads per worker: the cores left after the main thread's, shared among the workers, at
 * least 1 — so workers × intra-op threads never exceeds the cores (unless there are more workers than cores).
 */
export function defaultIntraOpThreads(threads: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor((cores - 1) / threads));
}

function hooksFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTestHooks {
  const hooks: WorkerTestHooks = {};
  const delay = Number(env.FRAMESIFT_TEST_WORKER_DELAY_MS);
  if (Number.isFinite(delay) && delay > 0) hooks.delayMs = delay;
  const fail = Number(env.FRAMESIFT_TEST_WORKER_FAIL_BATCH);
  if (Number.isInteger(fail) && fail > 0) hooks.failBatch = fail;
  return hooks;
}

export function createAnalysisPool(options: AnalysisPoolOptions): AnalysisPool {
  const cores = availableParallelism();
  const threads = options.threads ?? defaultThreads(cores);
  const intraOpThreads = options.intraOpThreads ?? defaultIntraOpThreads(threads, cores);
  const workerData: AnalysisWorkerData = {
    ringBuffer: options.ring?.buffer,
    modelsDir: options.modelsDir,
    intraOpThreads,
    testHooks: options.testHooks ?? hooksFromEnv(),
  };
  const isolation = options.isolation ?? 'threads';
  if (isolation === 'processes' && options.ring) throw new Error('a process pool cannot read a frame ring');
  const workers =
    isolation === 'processes'
      ? new ProcessWorkers(threads, { ...workerData, logLevel: logger.level as LogLevel })
      : new Piscina({
          filename: compiledSibling(import.meta.url, 'worker.js'),
          minThreads: threads,
          maxThreads: threads,
          idleTimeout: Number.POSITIVE_INFINITY,
          // Two tasks per worker: the next batch is already in the worker when the current one finishes;
          // the worker runs them one after another (worker-runtime.ts), so this costs no extra thread.
          concurrentTasksPerWorker: 2,
          workerData,
        });
  log.info('worker pool started', { isolation, workers: threads, intraOpThreads, cores });

  let ring: RingHandle | undefined;
  const pool: AnalysisPool = {
    threads,
    isolation,
    intraOpThreads,
    run<T extends AnalysisTask>(task: T): Promise<ResultOf<T>> {
      return workers.run(ring && task.kind !== 'warmup' ? { ...task, ring } : task) as Promise<ResultOf<T>>;
    },
    attachRing(frameRing: FrameRing): void {
      if (isolation === 'processes') throw new Error('a process pool cannot read a frame ring');
      ring = { id: (ring?.id ?? 0) + 1, buffer: frameRing.buffer };
    },
    async warmup(model: ModelRef): Promise<WarmupResult[]> {
      try {
        return await Promise.all(
          Array.from({ length: threads }, () => pool.run({ kind: 'warmup', model } as const)),
        );
      } catch (err) {
        // Errors cross the thread boundary as plain Errors: a model that will not load is the user's.
        throw new UserError(errorMessage(err));
      }
    },
    async destroy() {
      await workers.destroy();
    },
  };
  return pool;
}
