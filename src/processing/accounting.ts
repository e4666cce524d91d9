/**
 * What happened to every frame of a session: received = processed + dropped(by reason) + invalid(by
 * reason); seqs never seen are missing; the server's `sent` is compared with `received`.
 */
import type { ResultsCounts } from '../common/results-document.js';
import { framesDropped, framesInvalid, framesProcessed, framesReceived } from './metrics.js';

/** The counts of the results document (its `counts` field), as the client computes them. */
export type SessionCounts = Pick<
  ResultsCounts,
  'sent' | 'received' | 'processed' | 'dropped' | 'invalid' | 'missing'
>;

export interface Reconciliation {
  /** received = sent, every frame accounted for, nothing missing. */
  reconciled: boolean;
  /** Inclusive seq ranges never received, ascending. */
  missingRanges: Array<[number, number]>;
}

function sum(counts: Record<string, number>): number {
  let total = 0;
  for (const value of Object.values(counts)) total += value;
  return total;
}

export class SessionAccounting {
  received = 0;
  processed = 0;
  readonly dropped: Record<string, number> = {};
  readonly invalid: Record<string, number> = {};
  /** Highest seq seen, -1 before any. */
  maxSeq = -1;
  private seen = new Uint8Array(1024);

  countReceived(): void {
    this.received++;
    framesReceived.inc();
  }

  countProcessed(n = 1): void {
    this.processed += n;
    framesProcessed.inc(n);
  }

  countDropped(reason: string, n = 1): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
    framesDropped.inc({ reason }, n);
  }

  countInvalid(reason: string, n = 1): void {
    this.invalid[reason] = (this.invalid[reason] ?? 0) + n;
    framesInvalid.inc({ reason }, n);
  }

  /** Records that a message carried `seq`; false when it was seen before (a duplicate). */
  markSeen(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.seen.length) {
      let size = this.seen.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.seen);
      this.seen = grown;
    }
    const bit = 1 << (seq & 7);
    if ((this.seen[byte]! & bit) !== 0) return false;
    this.seen[byte]! |= bit;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return true;
  }

  hasSeen(seq: number): boolean {
    const byte = seq >>> 3;
    return byte < this.seen.length && (this.seen[byte]! & (1 << (seq & 7))) !== 0;
  }

  /** Frames accounted for so far (processed + dropped + invalid). */
  get settled(): number {
    return this.processed + sum(this.dropped) + sum(this.invalid);
  }

  /** Seq ranges in [0, upper) never seen; upper = sent, or one past the highest seq seen. */
  missingRanges(sent: number | null): Array<[number, number]> {
    const upper = sent ?? this.maxSeq + 1;
    const ranges: Array<[number, number]> = [];
    let start = -1;
    for (let seq = 0; seq < upper; seq++) {
      if (!this.hasSeen(seq)) {
        if (start < 0) start = seq;
      } else if (start >= 0) {
        ranges.push([start, seq - 1]);
        start = -1;
      }
    }
    if (start >= 0) ranges.push([start, upper - 1]);
    return ranges;
  }

  counts(sent: number | null): SessionCounts {
    const missing = this.missingRanges(sent).reduce((n, [a, b]) => n + b - a + 1, 0);
    return {
      sent,
      received: this.received,
      processed: this.processed,
      dropped: { ...this.dropped },
      invalid: { ...this.invalid },
      missing,
    };
  }

  reconcile(sent: number | null): Reconciliation {
    const missingRanges = this.missingRanges(sent);
    const reconciled =
      sent !== null && sent === this.received && missingRanges.length === 0 && this.settled === this.received;
    return { reconciled, missingRanges };
  }
}
