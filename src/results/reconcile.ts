/**
 * Frame-count reconciliation: every frame the server sent is accounted for as received (then processed,
 * dropped or invalid) or missing. Missing seqs come from a seen-bitmap over the received seqs.
 */

// The bitmap is kept in chunks of 2^16 seqs, allocated on first use: a stream of 100,000 frames costs
// two 8 KiB chunks, and one wild seq (uint32 on the wire) costs one chunk instead of 512 MiB.
const CHUNK_BITS = 16;
const CHUNK_SEQS = 1 << CHUNK_BITS;
const CHUNK_BYTES = CHUNK_SEQS / 8;

/** The set of seqs received in a session, as a sparse bitmap. */
export class SeqBitmap {
  private readonly chunks = new Map<number, Uint8Array>();
  private distinct = 0;
  private max = -1;

  /** Marks `seq` as seen; returns false when it was already seen (a repeated frame). */
  mark(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0)
      throw new RangeError(`seq must be a non-negative integer, got ${seq}`);
    const index = Math.floor(seq / CHUNK_SEQS);
    let chunk = this.chunks.get(index);
    if (!chunk) {
      chunk = new Uint8Array(CHUNK_BYTES);
      this.chunks.set(index, chunk);
    }
    const offset = seq - index * CHUNK_SEQS;
    const bit = 1 << (offset & 7);
    const byte = chunk[offset >> 3] as number;
    if (byte & bit) return false;
    chunk[offset >> 3] = byte | bit;
    this.distinct++;
    if (seq > this.max) this.max = seq;
    return true;
  }

  has(seq: number): boolean {
    const index = Math.floor(seq / CHUNK_SEQS);
    const chunk = this.chunks.get(index);
    if (!chunk || seq < 0) return false;
    const offset = seq - index * CHUNK_SEQS;
    return ((chunk[offset >> 3] as number) & (1 << (offset & 7))) !== 0;
  }

  /** Number of distinct seqs seen. */
  get size(): number {
    return this.distinct;
  }

  /** The highest seq seen, or -1. */
  get maxSeq(): number {
    return this.max;
  }

  /** Distinct seqs seen in [0, end). */
  countBelow(end: number): number {
    let count = 0;
    for (const [index, chunk] of this.chunks) {
      const first = index * CHUNK_SEQS;
      if (first >= end) continue;
      const last = Math.min(end, first + CHUNK_SEQS);
      for (let seq = first; seq < last; seq++) {
        const offset = seq - first;
        if ((chunk[offset >> 3] as number) & (1 << (offset & 7))) count++;
      }
    }
    return count;
  }

  /**
   * Inclusive ranges [from, to] of seqs in [0, end) never seen, ascending. Whole absent chunks are skipped
   * in one step, so the cost follows the number of chunks and ranges, not `end`.
   */
  missingRanges(end: number): Array<[number, number]> {
    const ranges: Array<[number, number]> = [];
    let gapStart = -1;
    for (let chunkStart = 0; chunkStart < end; chunkStart += CHUNK_SEQS) {
      const chunk = this.chunks.get(chunkStart / CHUNK_SEQS);
      const chunkEnd = Math.min(end, chunkStart + CHUNK_SEQS);
      if (!chunk) {
        if (gapStart < 0) gapStart = chunkStart;
        // Jump to the next allocated chunk (or the end) instead of walking empty chunks one by one.
        const next = this.nextChunkStart(chunkStart);
        if (next === undefined || next >= end) break;
        chunkStart = next - CHUNK_SEQS;
        continue;
      }
      for (let seq = chunkStart; seq < chunkEnd; seq++) {
        const offset = seq - chunkStart;
        // A whole empty byte is 8 missing seqs: skip it at once.
        if ((offset & 7) === 0 && chunk[offset >> 3] === 0 && seq + 8 <= chunkEnd) {
          if (gapStart < 0) gapStart = seq;
          seq += 7;
          continue;
        }
        const seen = ((chunk[offset >> 3] as number) & (1 << (offset & 7))) !== 0;
        if (!seen && gapStart < 0) gapStart = seq;
        if (seen && gapStart >= 0) {
          ranges.push([gapStart, seq - 1]);
          gapStart = -1;
        }
      }
    }
    if (gapStart >= 0 && gapStart < end) ranges.push([gapStart, end - 1]);
    return ranges;
  }

  private nextChunkStart(after: number): number | undefined {
    let next: number | undefined;
    for (const index of this.chunks.keys()) {
      const start = index * CHUNK_SEQS;
      if (start > after && (next === undefined || start < next)) next = start;
    }
    return next;
  }
}

/** Pure: the inclusive gaps in `receivedSeqs` within [0, end), ascending. */
export function gapRanges(receivedSeqs: Iterable<number>, end: number): Array<[number, number]> {
  const seen = new SeqBitmap();
  for (const seq of receivedSeqs) seen.mark(seq);
  return seen.missingRanges(end);
}

export interface ReconcileInput {
  /** Frames the server says it sent (from `end`/`stopped`); null when it never said. */
  sent: number | null;
  received: number;
  processed: number;
  dropped: Readonly<Record<string, number>>;
  invalid: Readonly<Record<string, number>>;
  /** The seqs received (whatever happened to them next). */
  seen: SeqBitmap;
}

export interface Reconciliation {
  reconciled: boolean;
  missing: number;
  missingRanges: Array<[number, number]>;
  sentEqualsReceivedPlusMissing: boolean | null;
  receivedEqualsProcessedPlusDroppedPlusInvalid: boolean;
  droppedTotal: number;
  invalidTotal: number;
  /** Received seqs at or beyond `sent` (a server that miscounts); 0 when sent is unknown. */
  beyondSent: number;
  /** One line a person can read: why the session did or did not reconcile. */
  explanation: string;
}

export function total(byReason: Readonly<Record<string, number>>): number {
  return Object.values(byReason).reduce((sum, n) => sum + n, 0);
}

/**
 * `reconciled` is true only when sent = received + missing and received = processed + dropped + invalid.
 * Without a `sent` figure (the server never said) the gaps are measured up to the highest seq seen, and the
 * session cannot reconcile.
 */
export function reconcile(input: ReconcileInput): Reconciliation {
  const { sent, received, processed, seen } = input;
  const droppedTotal = total(input.dropped);
  const invalidTotal = total(input.invalid);
  const end = sent ?? seen.maxSeq + 1;
  const missingRanges = seen.missingRanges(end);
  const missing = missingRanges.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
  const beyondSent = sent === null ? 0 : seen.size - seen.countBelow(sent);
  const sentOk = sent === null ? null : sent === received + missing;
  const receivedOk = received === processed + droppedTotal + invalidTotal;
  const reconciled = sentOk === true && receivedOk;

  const problems: string[] = [];
  if (sentOk === null) problems.push('the server never reported how many frames it sent');
  else if (!sentOk) problems.push(`sent ${sent} ≠ received ${received} + missing ${missing}`);
  if (!receivedOk) {
    problems.push(
      `received ${received} ≠ processed ${processed} + dropped ${droppedTotal} + invalid ${invalidTotal}`,
    );
  }
  if (beyondSent > 0) problems.push(`${beyondSent} received seq(s) at or beyond sent ${sent}`);
  const explanation = reconciled
    ? `every frame accounted for: sent ${sent} = received ${received} + missing ${missing}; received ${received} = processed ${processed} + dropped ${droppedTotal} + invalid ${invalidTotal}`
    : `not reconciled: ${problems.join('; ')}`;

  return {
    reconciled,
    missing,
    missingRanges,
    sentEqualsReceivedPlusMissing: sentOk,
    receivedEqualsProcessedPlusDroppedPlusInvalid: receivedOk,
    droppedTotal,
    invalidTotal,
    beyondSent,
    explanation,
  };
}

/** "0-4, 7, 9-12" — ranges as a person reads them, at most `limit` shown. */
export function formatRanges(ranges: ReadonlyArray<readonly [number, number]>, limit = 20): string {
  if (ranges.length === 0) return 'none';
  const shown = ranges.slice(0, limit).map(([from, to]) => (from === to ? `${from}` : `${from}–${to}`));
  const more = ranges.length - shown.length;
  return more > 0 ? `${shown.join(', ')} … and ${more} more range(s)` : shown.join(', ');
}
