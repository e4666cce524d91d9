/**
 * The session ledger: the one record of what happened to every frame message of a session, kept by the
 * client while frames arrive and read by the results stage when the session ends.
 *
 * Each message received is counted once and ends in one outcome: processed, dropped (DropReason) or
 * invalid (InvalidReason). Seqs are admitted before they are stored: a seq at or beyond the announced
 * `count` or one already received is invalid and never stored, so memory follows the frames received.
 * `counts(sent)` and `reconcile(sent)` apply the one rule of ./rule.ts.
 */
import {
  DROP_REASONS,
  INVALID_REASONS,
  UNATTRIBUTED_REASONS,
  type DropReason,
  type InvalidReason,
} from './reasons.js';
import {
  judgeSession,
  reconcileCounts,
  type CountsReconciliation,
  type SessionCounts,
  type SessionEnding,
  type SessionVerdict,
} from './rule.js';
import { SeqOutcomes, UNSEEN, rangesSize } from './seq-outcomes.js';

/** Told of every count as it happens (the client's Prometheus counters). */
export interface LedgerObserver {
  received?(): void;
  processed?(n: number): void;
  dropped?(reason: DropReason, n: number): void;
  invalid?(reason: InvalidReason, n: number): void;
}

export interface LedgerOptions {
  /** Frames the session announced; a seq at or beyond it is invalid (`seq-out-of-range`). */
  count?: number;
  observer?: LedgerObserver;
}

export interface Reconciliation extends CountsReconciliation {
  missing: number;
  /** Inclusive seq ranges [from, to] never received, ascending. */
  missingRanges: Array<[number, number]>;
}

/** Everything the results stage reports about a finished session's frames. */
export interface SessionJudgement {
  counts: SessionCounts;
  reconciliation: Reconciliation;
  verdict: SessionVerdict;
  /** Seqs recorded at or beyond `sent`: their results are not reported. */
  beyondSent: number[];
}

// Outcome codes of a seq (SeqOutcomes): admitted and in the pipeline, processed, or a reason's code.
const PENDING = 1;
const PROCESSED = 2;
const DROPPED_BASE = 16;
const INVALID_BASE = 64;
const dropCode = (reason: DropReason): number => DROPPED_BASE + DROP_REASONS.indexOf(reason);
const invalidCode = (reason: InvalidReason): number => INVALID_BASE + INVALID_REASONS.indexOf(reason);

export class SessionLedger {
  private readonly outcomes = new SeqOutcomes();
  private receivedCount = 0;
  private processedCount = 0;
  private readonly droppedBy: Partial<Record<DropReason, number>> = {};
  private readonly invalidBy: Partial<Record<InvalidReason, number>> = {};
  private readonly count: number | undefined;
  private readonly observer: LedgerObserver;

  constructor(options: LedgerOptions = {}) {
    this.count = options.count;
    this.observer = options.observer ?? {};
  }

  get received(): number {
    return this.receivedCount;
  }

  get processed(): number {
    return this.processedCount;
  }

  /** Frames dropped with `reason` so far. */
  droppedCount(reason: DropReason): number {
    return this.droppedBy[reason] ?? 0;
  }

  /** Messages counted invalid with `reason` so far. */
  invalidCount(reason: InvalidReason): number {
    return this.invalidBy[reason] ?? 0;
  }

  /** The highest seq admitted, or -1. */
  get maxSeq(): number {
    return this.outcomes.maxSeq;
  }

  /** A message arrived on the frame socket (before anything is known about it). */
  receive(): void {
    this.receivedCount++;
    this.observer.received?.();
  }

  /**
   * Lets the frame with `seq` into the pipeline, or counts it invalid: returns undefined when admitted,
   * else the reason it was counted under (`seq-out-of-range`, `duplicate-seq`).
   */
  admit(seq: number): InvalidReason | undefined {
    const refused = this.refusal(seq);
    if (refused) {
      this.countInvalid(refused);
      return refused;
    }
    this.outcomes.set(seq, PENDING);
    return undefined;
  }

  private refusal(seq: number): 'seq-out-of-range' | 'duplicate-seq' | undefined {
    if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) return 'seq-out-of-range';
    if (this.count !== undefined && seq >= this.count) return 'seq-out-of-range';
    if (this.outcomes.get(seq) !== UNSEEN) return 'duplicate-seq';
    return undefined;
  }

  /**
   * A message is invalid. `seq` is the seq it names, when readable: an admitted frame (a worker could not
   * decode it) or a header that failed validation after the seq (counted under the seq's own problem —
   * out of range, repeated — when it has one). Returns the reason counted.
   */
  invalid(reason: InvalidReason, seq?: number): InvalidReason {
    if (seq === undefined || UNATTRIBUTED_REASONS.has(reason)) {
      this.countInvalid(reason);
      return reason;
    }
    if (this.outcomes.get(seq) !== PENDING) {
      const refused = this.refusal(seq);
      if (refused) {
        this.countInvalid(refused);
        return refused;
      }
    }
    this.outcomes.set(seq, invalidCode(reason));
    this.countInvalid(reason);
    return reason;
  }

  /** An admitted frame is not analysed. False (and nothing counted) when `seq` is not in the pipeline. */
  drop(reason: DropReason, seq: number): boolean {
    if (this.outcomes.get(seq) !== PENDING) return false;
    this.outcomes.set(seq, dropCode(reason));
    this.droppedBy[reason] = (this.droppedBy[reason] ?? 0) + 1;
    this.observer.dropped?.(reason, 1);
    return true;
  }

  /** An admitted frame was analysed and its result consumed. False when `seq` is not in the pipeline. */
  process(seq: number): boolean {
    if (this.outcomes.get(seq) !== PENDING) return false;
    this.outcomes.set(seq, PROCESSED);
    this.processedCount++;
    this.observer.processed?.(1);
    return true;
  }

  private countInvalid(reason: InvalidReason): void {
    this.invalidBy[reason] = (this.invalidBy[reason] ?? 0) + 1;
    this.observer.invalid?.(reason, 1);
  }

  /**
   * Seqs recorded at or beyond `sent`: possible only when no count was announced. They name no frame the
   * server sent and are counted as `seq-out-of-range` by `counts(sent)`; their results must not be reported.
   */
  beyond(sent: number | null): number[] {
    const seqs: number[] = [];
    if (sent !== null && this.outcomes.maxSeq >= sent)
      this.outcomes.forEachFrom(sent, (seq) => seqs.push(seq));
    return seqs;
  }

  /** The seq range gaps are measured in: [0, sent), else [0, count), else up to the highest seq seen. */
  private end(sent: number | null): number {
    return sent ?? this.count ?? this.outcomes.maxSeq + 1;
  }

  missingRanges(sent: number | null): Array<[number, number]> {
    return this.outcomes.missingRanges(this.end(sent));
  }

  /** The counts of the results document, given the server's `sent` (null when it never said). */
  counts(sent: number | null): SessionCounts {
    let processed = this.processedCount;
    const dropped: Record<string, number> = { ...this.droppedBy };
    const invalid: Record<string, number> = { ...this.invalidBy };
    if (sent !== null && this.outcomes.maxSeq >= sent) {
      // Admitted when no count bounded them; now known to be beyond what the server sent.
      this.outcomes.forEachFrom(sent, (_seq, code) => {
        if (code === PROCESSED) processed--;
        else if (code >= INVALID_BASE) invalid[INVALID_REASONS[code - INVALID_BASE]!]!--;
        else if (code >= DROPPED_BASE) dropped[DROP_REASONS[code - DROPPED_BASE]!]!--;
        else return; // still pending: left out of every outcome, so the counts show it
        invalid['seq-out-of-range'] = (invalid['seq-out-of-range'] ?? 0) + 1;
      });
    }
    const nonZero = (byReason: Record<string, number>) =>
      Object.fromEntries(Object.entries(byReason).filter(([, n]) => n > 0));
    return {
      sent,
      received: this.receivedCount,
      processed,
      dropped: nonZero(dropped),
      invalid: nonZero(invalid),
      missing: rangesSize(this.missingRanges(sent)),
    };
  }

  /** The one rule (./rule.ts) on this session's counts, with the missing seqs by range. */
  reconcile(sent: number | null): Reconciliation {
    const missingRanges = this.missingRanges(sent);
    const counts = this.counts(sent);
    return { ...reconcileCounts(counts), missing: counts.missing, missingRanges };
  }

  /** Counts, reconciliation and verdict of the finished session, given how it ended. */
  judge(sent: number | null, ending: SessionEnding): SessionJudgement {
    const reconciliation = this.reconcile(sent);
    const counts = this.counts(sent);
    const verdict = judgeSession({
      reconciled: reconciliation.reconciled,
      missing: counts.missing,
      sent,
      ending,
    });
    return { counts, reconciliation, verdict, beyondSent: this.beyond(sent) };
  }
}
