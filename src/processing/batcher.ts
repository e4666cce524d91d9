/**
 * Micro-batching of ring frames for the workers: a batch is dispatched as soon as `batchSize` frames are
 * pending, or when the oldest pending frame has waited `batchWaitMs`; at most `maxInFlight` batches are
 * out at once (more would only queue in the pool while holding ring slots). The batch's slots are
 * released by this (main) thread after `run` — which consumes the result — has settled.
 *
 * Per frame the only work is `frameAdded()`: a compare and, for the first frame of a batch, a timer.
 */
import type { FrameRing } from '../common/frame-ring.js';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { batchSizeFrames, batchesInFlight, ringDepth } from './metrics.js';

const log = loggerFor('processing.batcher');

export interface Batch {
  /** Ring slots of the batch's frames, oldest first. */
  slots: Int32Array;
  /** performance.now() when dispatched. */
  dispatchedAt: number;
  /** 1-based batch number within the session. */
  id: number;
}

export interface MicroBatcherOptions {
  ring: FrameRing;
  batchSize: number;
  batchWaitMs: number;
  maxInFlight: number;
  /** Analyses the batch and consumes its result; a rejection counts the batch as failed. */
  run: (batch: Batch) => Promise<void>;
  /** A batch failed: account for its frames (they are released right after). */
  onBatchError: (batch: Batch, err: unknown) => void;
  /** Slots were released: a paused listener may go on. */
  onReleased?: () => void;
}

export class MicroBatcher {
  readonly batchSize: number;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The oldest pending frame has waited long enough: the next chance dispatches a partial batch. */
  private overdue = false;
  private draining = false;
  private batches = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: MicroBatcherOptions) {
    this.batchSize = options.batchSize;
  }

  get batchesInFlight(): number {
    return this.inFlight;
  }

  get batchesDispatched(): number {
    return this.batches;
  }

  /** Called after each frame is written to the ring. */
  frameAdded(): void {
    if (this.options.ring.pending >= this.batchSize) {
      this.pump();
    } else if (this.timer === undefined && !this.overdue) {
      this.timer = setTimeout(this.onTimer, this.options.batchWaitMs);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.overdue = true;
    this.pump();
  };

  /** Dispatches every batch that is due, within the in-flight bound. */
  pump(): void {
    const { ring } = this.options;
    while (this.inFlight < this.options.maxInFlight) {
      const pending = ring.pending;
      if (pending === 0) break;
      if (pending < this.batchSize && !this.overdue && !this.draining) break;
      this.dispatch(Math.min(pending, this.batchSize));
    }
    if (ring.pending === 0) {
      this.overdue = false;
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    } else if (this.timer === undefined && !this.overdue && !this.draining) {
      // Frames left behind a dispatched batch start their own wait.
      this.timer = setTimeout(this.onTimer, this.options.batchWaitMs);
    }
    ringDepth.set(ring.depth);
    if (this.inFlight === 0 && ring.pending === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private dispatch(n: number): void {
    const { ring } = this.options;
    const slots = new Int32Array(n);
    ring.takePending(n, slots);
    // A dispatched partial batch resets the wait: the next frames start a fresh one.
    this.overdue = false;
    const batch: Batch = { slots, dispatchedAt: performance.now(), id: ++this.batches };
    this.inFlight++;
    batchesInFlight.set(this.inFlight);
    batchSizeFrames.observe(n);
    this.options
      .run(batch)
      .catch((err: unknown) => {
        log.error('batch failed: its frames are counted as dropped (worker-error)', {
          batch: batch.id,
          frames: n,
          error: errorMessage(err),
        });
        this.options.onBatchError(batch, err);
      })
      .finally(() => {
        for (let i = 0; i < slots.length; i++) ring.release(slots[i]!);
        this.inFlight--;
        batchesInFlight.set(this.inFlight);
        this.options.onReleased?.();
        this.pump();
      });
  }

  /**
   * Dispatches everything pending without waiting for full batches and resolves when nothing is pending
   * or in flight (end of session).
   */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.pump();
    });
  }

  /** Stops the timer (the session is over). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
