/**
 * Where each batch goes: to the workers (the tasks of the analysis plan), then every frame's result to
 * the ledger (processed, or invalid with the worker's reason), the recorder (predictions, samples), the
 * unique store (in seq order) and the latency metrics.
 */
import type { FrameImage } from '../../common/frame-image.js';
import type { FrameRing } from '../../common/frame-ring.js';
import { loggerFor } from '../../common/logger.js';
import { FrameEncoding } from '../../common/wire/header.js';
import type { InvalidReason, SessionLedger } from '../../common/session/index.js';
import {
  featureOf,
  type AnalysisPool,
  type ClassifyResult,
  type ImagesResult,
  type ModelRef,
} from '../../analysis/index.js';
import type { ChangeOptions, Feature, Method, StreamDeduper } from '../../dedupe/index.js';
import { pipelineMetrics, type Batch } from '../../processing/index.js';
import type { SessionRecorder } from '../../results/index.js';
import { PHOTO_EMBEDDER, type AnalysisPlan } from './plan.js';

const log = loggerFor('run.routing');

export interface RoutingOptions {
  pool: AnalysisPool;
  /**
   * With a pool of processes: the thread pool on the ring that batches holding raw frames go to instead
   * (copying raw pixels between processes costs more than the work on them), started on first use.
   */
  ringPool?: (ring: FrameRing) => Promise<AnalysisPool>;
  plan: AnalysisPlan;
  model: ModelRef;
  method: Method;
  change: ChangeOptions;
  ledger: SessionLedger;
  recorder: SessionRecorder;
  deduper?: StreamDeduper;
  /** The stream the unique store keeps frames of (the session's source). */
  streamId: string;
  onProgress?: (processed: number) => void;
  /** Each processed frame, for the live page (which copies the pixels only when it needs them). */
  onFrame?: (frame: {
    seq: number;
    image: FrameImage;
    sentAt: number;
    now: number;
    prediction?: { label: number; confidence: number };
  }) => void;
}

export interface ResultRouting {
  /** Analyses a batch and routes its results (the ingest's `run`). */
  run(batch: Batch, ring: FrameRing): Promise<void>;
  /** Time the workers spent in inference and in preparing tensors, summed over consumed batches. */
  readonly workerMs: { infer: number; prep: number };
}

function embeddingFeature(result: ClassifyResult, i: number): Feature {
  const d = result.embeddingDim;
  if (!result.embeddings || d === 0) throw new Error('classifier returned no embedding for dedupe');
  return { kind: 'embedding', vector: result.embeddings.slice(i * d, (i + 1) * d) };
}

/** A frame out of its slot, for a worker process (the ring's shared memory does not cross processes). */
function frameCopy(frame: FrameImage): FrameImage {
  return { ...frame, data: frame.data.slice() };
}

export function createResultRouting(options: RoutingOptions): ResultRouting {
  const { pool, plan, ledger, recorder, deduper } = options;
  const workerMs = { infer: 0, prep: 0 };

  const consume = async (
    batch: Batch,
    ring: FrameRing,
    classified: ClassifyResult | undefined,
    images: ImagesResult | undefined,
  ): Promise<void> => {
    const inferMs = (classified?.inferMs ?? 0) + (images?.inferMs ?? 0);
    pipelineMetrics.inferenceSeconds.observe(inferMs / 1000);
    workerMs.infer += inferMs;
    workerMs.prep += (classified?.prepMs ?? 0) + (images?.prepMs ?? 0);
    const now = Date.now();
    // A frame that failed in either task is counted once, as invalid with the first reason.
    let failed: Set<number> | undefined;
    for (const f of [...(classified?.failed ?? []), ...(images?.failed ?? [])]) {
      failed ??= new Set();
      if (failed.has(f.index)) continue;
      failed.add(f.index);
      const reason = f.reason as InvalidReason;
      ledger.invalid(reason, ring.seqOf(batch.slots[f.index]!));
      log.warn('frame could not be analysed', { reason, detail: f.message });
    }
    for (let i = 0; i < batch.slots.length; i++) {
      if (failed?.has(i)) continue;
      const slot = batch.slots[i]!;
      const sentAt = ring.sentAtOf(slot);
      const seq = ring.seqOf(slot);
      const image = ring.frame(slot);
      if (plan.labels && classified) {
        recorder.predicted(seq, classified.labels[i]!, classified.confidences[i]!, image, sentAt, now);
      } else {
        recorder.processed(sentAt, now);
      }
      if (deduper) {
        const feature =
          plan.images && images ? featureOf(images, i, options.method) : embeddingFeature(classified!, i);
        // The frame stays in its slot until the batch is consumed: the check may read it off-thread.
        await deduper.acceptChecked({ streamId: options.streamId, seq, feature, image });
      }
      ledger.process(seq);
      options.onFrame?.({
        seq,
        image,
        sentAt,
        now,
        ...(plan.labels && classified
          ? { prediction: { label: classified.labels[i]!, confidence: classified.confidences[i]! } }
          : {}),
      });
      pipelineMetrics.endToEndSeconds.observe((now - sentAt) / 1000);
    }
    options.onProgress?.(ledger.processed);
  };

  /** The images task of a batch: on threads from the ring, or on processes with copies of the frames. */
  const images = async (
    batch: Batch,
    ring: FrameRing,
    sidecars: Array<[number, SharedArrayBuffer]> | undefined,
  ): Promise<ImagesResult> => {
    const task = {
      kind: 'images',
      method: options.method,
      ...(options.method === 'cnn' ? { model: PHOTO_EMBEDDER } : {}),
      ...(options.method === 'change' ? { change: options.change } : {}),
    } as const;
    if (pool.isolation === 'threads') return pool.run({ ...task, slots: batch.slots, sidecars });
    if (options.ringPool && batch.slots.some((slot) => ring.encodingOf(slot) === FrameEncoding.raw)) {
      return (await options.ringPool(ring)).run({ ...task, slots: batch.slots, sidecars });
    }
    return pool.run({ ...task, frames: Array.from(batch.slots, (slot) => frameCopy(ring.frame(slot))) });
  };

  // The unique store decides in seq order: batches are consumed in dispatch order (= arrival order).
  let turn: Promise<unknown> = Promise.resolve();
  return {
    workerMs,
    run(batch, ring) {
      const sidecars = ring.sidecarsOf(batch.slots);
      const work = Promise.all([
        plan.classify
          ? pool.run({
              kind: 'classify',
              model: options.model,
              slots: batch.slots,
              sidecars,
              embedding: plan.classifierEmbedding,
            })
          : undefined,
        plan.images ? images(batch, ring, sidecars) : undefined,
      ]);
      if (!deduper) return work.then(([c, im]) => consume(batch, ring, c, im));
      const done = turn.then(() => work).then(([c, im]) => consume(batch, ring, c, im));
      turn = done.catch(() => undefined);
      return done;
    },
  };
}
