/**
 * What the results stage keeps of a session's processed frames: the predictions and the sample
 * candidates that writeResultsFolder needs. Frame counts live in the session ledger (src/common/session).
 */
import { ResultsCollector } from './collector.js';
import { SampleCollector } from './samples.js';
import type { FrameImage } from '../common/frame-image.js';

export class SessionRecorder {
  readonly predictions = new ResultsCollector();
  readonly samples = new SampleCollector();

  /** A processed, classified frame. The pixels are copied only if the frame becomes a sample candidate. */
  predicted(
    seq: number,
    label: number,
    confidence: number,
    image: FrameImage,
    sentAt?: number,
    resultAt: number = Date.now(),
  ): void {
    this.predictions.add(seq, label, confidence, sentAt, resultAt);
    this.samples.offer(seq, label, confidence, image);
  }

  /** A processed frame without a class (dedupe-only mode). */
  processed(sentAt?: number, resultAt: number = Date.now()): void {
    this.predictions.addUnlabelled(sentAt, resultAt);
  }
}
