/**
 * One object the run command feeds as frames move through the pipeline; it keeps the counts, the seen
 * seqs, the predictions and the sample candidates that writeResultsFolder needs.
 */
import { ResultsCollector } from './collector.js';
import { SeqBitmap } from './reconcile.js';
import { SampleCollector, type FrameImage } from './samples.js';

export interface FrameCounts {
  received: number;
  processed: number;
  dropped: Record<string, number>;
  invalid: Record<string, number>;
}

export class SessionRecorder {
  readonly receivedSeqs = new SeqBitmap();
  readonly predictions = new ResultsCollector();
  readonly samples = new SampleCollector();
  private readonly frameCounts: FrameCounts = { received: 0, processed: 0, dropped: {}, invalid: {} };

  /** A frame message arrived; `seq` is undefined when its header could not be read. */
  received(seq?: number): void {
    this.frameCounts.received++;
    if (seq !== undefined) this.receivedSeqs.mark(seq);
  }

  /** A received frame was not processed, e.g. 'ring-full' or 'stopped'. */
  dropped(reason: string): void {
    this.frameCounts.dropped[reason] = (this.frameCounts.dropped[reason] ?? 0) + 1;
  }

  /** A received frame was rejected, e.g. 'bad-magic', 'bad-size', 'decode-failed'. */
  invalid(reason: string): void {
    this.frameCounts.invalid[reason] = (this.frameCounts.invalid[reason] ?? 0) + 1;
  }

  /** A processed, classified frame. The pixels are copied only if the frame becomes a sample candidate. */
  predicted(
    seq: number,
    label: number,
    confidence: number,
    image: FrameImage,
    sentAt?: number,
    resultAt: number = Date.now(),
  ): void {
    this.frameCounts.processed++;
    this.predictions.add(seq, label, confidence, sentAt, resultAt);
    this.samples.offer(seq, label, confidence, image);
  }

  /** A processed frame without a class (dedupe-only mode). */
  processed(sentAt?: number, resultAt: number = Date.now()): void {
    this.frameCounts.processed++;
    this.predictions.addUnlabelled(sentAt, resultAt);
  }

  get counts(): FrameCounts {
    return {
      ...this.frameCounts,
      dropped: { ...this.frameCounts.dropped },
      invalid: { ...this.frameCounts.invalid },
    };
  }
}
