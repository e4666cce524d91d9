/**
 * Ingest: the frame socket's listener, the frame ring and the micro-batcher, wired to each other here so a
 * command only supplies what a batch is for (`run`). Frames flow listener → ring → batcher → `run`;
 * released slots flow back to the listener (a paused socket resumes).
 */
import { FrameRing, slotBytesFor } from '../common/frame-ring.js';
import type { SessionLedger } from '../common/session/index.js';
import { loggerFor } from '../common/logger.js';
import { MicroBatcher, type Batch } from './batcher.js';
import { FrameListener, type RingPolicy } from './frame-listener.js';

const log = loggerFor('processing.ingest');

export interface IngestOptions {
  /** The frame size the session announced (slots are sized from it). */
  dims: { width?: number; height?: number; channels?: number };
  ringSlots: number;
  ringPolicy: RingPolicy;
  batchSize: number;
  batchWaitMs: number;
  /** Batches out at once (the pool's workers × 2). */
  maxInFlight: number;
  ledger: SessionLedger;
  /** Analyses a batch and consumes its result; a rejection drops the batch's frames (`worker-error`). */
  run: (batch: Batch, ring: FrameRing) => Promise<void>;
}

export interface Ingest {
  readonly ring: FrameRing;
  readonly listener: FrameListener;
  /** The batch size used: `batchSize` lowered so frames can queue behind the batches in flight. */
  readonly batchSize: number;
  readonly batches: number;
  /** Dispatches what is pending and resolves when nothing is pending or in flight. */
  drain(): Promise<void>;
  /** Stops the batch timer and closes the frame socket at once. */
  close(): void;
}

export function createIngest(options: IngestOptions): Ingest {
  const { ledger, ringSlots: slots } = options;
  const batchSize = Math.max(1, Math.min(options.batchSize, Math.floor(slots / (options.maxInFlight + 1))));
  if (batchSize < options.batchSize) {
    log.warn('batch size lowered to fit the ring', { asked: options.batchSize, batchSize, ringSlots: slots });
  }
  const ring = FrameRing.create({ slots, slotBytes: slotBytesFor(options.dims, slots) });
  const batcher = new MicroBatcher({
    ring,
    batchSize,
    batchWaitMs: options.batchWaitMs,
    maxInFlight: options.maxInFlight,
    run: (batch) => options.run(batch, ring),
    onBatchError: (batch) => {
      for (const slot of batch.slots) ledger.drop('worker-error', ring.seqOf(slot));
    },
    // Released slots let held-back frames in (and a paused socket resume).
    onReleased: () => listener.onSlotsReleased(),
  });
  const listener = new FrameListener({
    ring,
    policy: options.ringPolicy,
    ledger,
    onFrame: () => batcher.frameAdded(),
  });
  return {
    ring,
    listener,
    batchSize,
    get batches() {
      return batcher.batchesDispatched;
    },
    async drain() {
      await batcher.drain();
      batcher.close();
    },
    close() {
      batcher.close();
      listener.terminate();
    },
  };
}
