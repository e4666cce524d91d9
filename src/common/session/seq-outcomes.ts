/**
 * What happened to each seq of a session, one byte per seq, stored sparsely: chunks of 1,024 seqs are
 * allocated on first use, so memory follows the frames actually received (a 100,000-frame session costs
 * 98 KiB; one wild seq such as 0xFFFFFFF0 costs one 1 KiB chunk, never a dense array up to it).
 */

const CHUNK_BITS = 10;
const CHUNK_SEQS = 1 << CHUNK_BITS;

/** 0 = never seen; any other value is an outcome code chosen by the caller. */
export const UNSEEN = 0;

export class SeqOutcomes {
  private readonly chunks = new Map<number, Uint8Array>();
  private lastIndex = -1;
  private lastChunk: Uint8Array | undefined;
  private seen = 0;
  private max = -1;

  private chunkOf(seq: number, create: boolean): Uint8Array | undefined {
    const index = seq >>> CHUNK_BITS;
    if (index === this.lastIndex) return this.lastChunk;
    let chunk = this.chunks.get(index);
    if (!chunk && create) {
      chunk = new Uint8Array(CHUNK_SEQS);
      this.chunks.set(index, chunk);
    }
    if (chunk) {
      this.lastIndex = index;
      this.lastChunk = chunk;
    }
    return chunk;
  }

  /** The outcome code of `seq`, UNSEEN (0) when never set. `seq` is a uint32. */
  get(seq: number): number {
    const chunk = this.chunkOf(seq, false);
    return chunk ? chunk[seq & (CHUNK_SEQS - 1)]! : UNSEEN;
  }

  /** Sets the outcome code (non-zero) of `seq`; returns the previous code. */
  set(seq: number, code: number): number {
    const chunk = this.chunkOf(seq, true)!;
    const offset = seq & (CHUNK_SEQS - 1);
    const previous = chunk[offset]!;
    chunk[offset] = code;
    if (previous === UNSEEN) {
      this.seen++;
      if (seq > this.max) this.max = seq;
    }
    return previous;
  }

  /** Distinct seqs seen. */
  get size(): number {
    return this.seen;
  }

  /** The highest seq seen, or -1. */
  get maxSeq(): number {
    return this.max;
  }

  /** Calls `visit(seq, code)` for every seen seq ≥ `from` (ascending within a chunk). */
  forEachFrom(from: number, visit: (seq: number, code: number) => void): void {
    for (const [index, chunk] of this.chunks) {
      const first = index * CHUNK_SEQS;
      if (first + CHUNK_SEQS <= from) continue;
      for (let offset = Math.max(0, from - first); offset < CHUNK_SEQS; offset++) {
        const code = chunk[offset]!;
        if (code !== UNSEEN) visit(first + offset, code);
      }
    }
  }

  /**
   * Inclusive ranges [from, to] of seqs in [0, end) never seen, ascending. Absent chunks are skipped
   * whole, so the cost follows the chunks allocated and the ranges found, not `end`.
   */
  missingRanges(end: number): Array<[number, number]> {
    const ranges: Array<[number, number]> = [];
    const indexes = [...this.chunks.keys()].filter((i) => i * CHUNK_SEQS < end).sort((a, b) => a - b);
    let gapStart = -1;
    let next = 0;
    const close = (until: number): void => {
      if (gapStart >= 0) ranges.push([gapStart, until - 1]);
      gapStart = -1;
    };
    for (const index of indexes) {
      const first = index * CHUNK_SEQS;
      if (first > next && gapStart < 0) gapStart = next;
      const chunk = this.chunks.get(index)!;
      const last = Math.min(end, first + CHUNK_SEQS);
      for (let seq = first; seq < last; seq++) {
        if (chunk[seq - first] === UNSEEN) {
          if (gapStart < 0) gapStart = seq;
        } else close(seq);
      }
      next = last;
    }
    if (next < end && gapStart < 0) gapStart = next;
    close(end);
    return ranges;
  }
}

/** Number of seqs in inclusive ranges. */
export function rangesSize(ranges: ReadonlyArray<readonly [number, number]>): number {
  let n = 0;
  for (const [from, to] of ranges) n += to - from + 1;
  return n;
}
