/**
 * Accumulates a session's per-frame predictions in typed arrays (≈14 bytes per frame), in arrival order;
 * `columns()` returns them sorted by seq for the document.
 */
import { round } from './metrics.js';

const INITIAL_CAPACITY = 1024;

function grow<T extends Uint32Array | Uint16Array | Float32Array | Float64Array>(
  array: T,
  length: number,
): T {
  if (length < array.length) return array;
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}

export interface PredictionColumns {
  seq: number[];
  label: number[];
  confidence: number[];
}

export class ResultsCollector {
  private seqs = new Uint32Array(INITIAL_CAPACITY);
  private labels = new Uint16Array(INITIAL_CAPACITY);
  private confidences = new Float32Array(INITIAL_CAPACITY);
  private predicted = 0;
  private latencies = new Float32Array(INITIAL_CAPACITY);
  private latencyCount = 0;
  private firstSentAt = Number.POSITIVE_INFINITY;
  private lastResultAt = Number.NEGATIVE_INFINITY;

  /**
   * One classified frame. `sentAt` is the header's send time (ms since the epoch); `resultAt` is when its
   * result reached the main thread. Their difference is the frame's end-to-end latency.
   */
  add(seq: number, label: number, confidence: number, sentAt?: number, resultAt: number = Date.now()): void {
    this.seqs = grow(this.seqs, this.predicted);
    this.labels = grow(this.labels, this.predicted);
    this.confidences = grow(this.confidences, this.predicted);
    this.seqs[this.predicted] = seq;
    this.labels[this.predicted] = label;
    // A NaN or out-of-range score would make the document invalid; clamp so the frame still counts.
    this.confidences[this.predicted] = Number.isFinite(confidence) ? Math.min(1, Math.max(0, confidence)) : 0;
    this.predicted++;
    this.addLatency(sentAt, resultAt);
  }

  /** A frame processed without a class (dedupe-only mode): only its latency counts. */
  addUnlabelled(sentAt?: number, resultAt: number = Date.now()): void {
    this.addLatency(sentAt, resultAt);
  }

  private addLatency(sentAt: number | undefined, resultAt: number): void {
    if (sentAt === undefined || !Number.isFinite(sentAt)) return;
    this.latencies = grow(this.latencies, this.latencyCount);
    this.latencies[this.latencyCount++] = resultAt - sentAt;
    if (sentAt < this.firstSentAt) this.firstSentAt = sentAt;
    if (resultAt > this.lastResultAt) this.lastResultAt = resultAt;
  }

  get size(): number {
    return this.predicted;
  }

  /** Latencies (ms) in arrival order; a view, valid until the next add. */
  latencyMs(): Float32Array {
    return this.latencies.subarray(0, this.latencyCount);
  }

  /** Labels and confidences in arrival order (views). */
  labelsView(): Uint16Array {
    return this.labels.subarray(0, this.predicted);
  }

  confidencesView(): Float32Array {
    return this.confidences.subarray(0, this.predicted);
  }

  /** ms from the first frame's send time to the last result, or null with no timed frames. */
  get activeWindowMs(): number | null {
    return this.latencyCount > 0 ? this.lastResultAt - this.firstSentAt : null;
  }

  /** The document's columns: sorted by seq, confidence rounded to 4 decimals; seqs ≥ `below` left out. */
  columns(below = Number.POSITIVE_INFINITY): PredictionColumns {
    const order = new Uint32Array(this.predicted);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const seqs = this.seqs;
    order.sort((a, b) => (seqs[a] as number) - (seqs[b] as number));
    const seq: number[] = [];
    const label: number[] = [];
    const confidence: number[] = [];
    for (let i = 0; i < order.length; i++) {
      const j = order[i] as number;
      const s = seqs[j] as number;
      // A seq predicted twice (a repeated frame) is kept once: the document's seqs are strictly ascending.
      if (seq.length > 0 && seq[seq.length - 1] === s) continue;
      if (s >= below) break;
      seq.push(s);
      label.push(this.labels[j] as number);
      confidence.push(round(this.confidences[j] as number, 4));
    }
    return { seq, label, confidence };
  }
}
