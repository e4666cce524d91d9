/**
 * A session fed by hand, as the listener and the result routing feed it in `run`: every frame goes to the
 * ledger (its outcome) and, when processed, to the recorder (predictions, samples).
 */
import type { FrameImage } from '../../src/common/frame-image.js';
import {
  SessionLedger,
  type DropReason,
  type InvalidReason,
  type SessionEnding,
  type SessionJudgement,
} from '../../src/common/session/index.js';
import { SessionRecorder, type SessionOutcome } from '../../src/results/index.js';

export class RecordedSession {
  readonly ledger: SessionLedger;
  readonly recorder = new SessionRecorder();

  constructor(count?: number) {
    this.ledger = new SessionLedger(count !== undefined ? { count } : {});
  }

  /** A frame message with `seq` arrived and entered the pipeline. */
  received(seq: number): void {
    this.ledger.receive();
    this.ledger.admit(seq);
  }

  dropped(reason: DropReason, seq: number): void {
    this.ledger.drop(reason, seq);
  }

  invalid(reason: InvalidReason, seq?: number): void {
    this.ledger.invalid(reason, seq);
  }

  predicted(
    seq: number,
    label: number,
    confidence: number,
    image: FrameImage,
    sentAt?: number,
    resultAt?: number,
  ): void {
    this.recorder.predicted(seq, label, confidence, image, sentAt, resultAt);
    this.ledger.process(seq);
  }

  /** A processed frame without a class (dedupe-only mode). */
  processed(seq: number, sentAt?: number, resultAt?: number): void {
    this.recorder.processed(sentAt, resultAt);
    this.ledger.process(seq);
  }

  /** The outcome fields the ledger and the recorder provide, for a session that ended as `ending`. */
  outcome(
    sent: number | null,
    ending: SessionEnding = { kind: 'ended' },
  ): SessionJudgement & Pick<SessionOutcome, 'predictions' | 'samples'> {
    return {
      ...this.ledger.judge(sent, ending),
      predictions: this.recorder.predictions,
      samples: this.recorder.samples,
    };
  }
}
