/**
 * Memory-bounded, deterministic choice of the sample frames shown in a session's report.
 *
 * Every prediction is offered with a view of its pixels; the collector keeps, per predicted class, the
 * most confident and least confident frames (ties → lowest seq) and copies pixels only for those: 5 of
 * each while fewer than 10 classes have been seen (a session of one class still fills 10 samples), 2 of
 * each from then on (one is used, the other replaces a frame that fails to decode). These lists are exact
 * functions of the whole set of predictions, so the choice does not depend on the order in which results
 * arrived. Pixels are held for at most MAX_HELD_CLASSES classes (the most predicted so far): with more
 * classes than that (an ImageNet model on a camera) memory stays bounded and the choice is approximate.
 */

import type { FrameImage } from '../common/frame-image.js';
export type { FrameImage };

export type SampleReason = 'most-confident' | 'least-confident' | 'fill';

export interface Sample {
  seq: number;
  label: number;
  confidence: number;
  reason: SampleReason;
  image: FrameImage;
}

interface Candidate {
  seq: number;
  label: number;
  confidence: number;
  image: FrameImage;
}

export const SAMPLE_COUNT = 10;
/** Enough per end that a session predicting a single class still fills 10 samples. */
const PER_END = Math.ceil(SAMPLE_COUNT / 2);
/** Per end once at least SAMPLE_COUNT classes are seen: one sample per class, one spare. */
const PER_END_MANY_CLASSES = 2;
/** Classes whose candidates' pixels are held at a time. */
export const MAX_HELD_CLASSES = 32;

/** Ordering "more confident first", ties → lower seq first. */
function moreConfident(
  a: { confidence: number; seq: number },
  b: { confidence: number; seq: number },
): number {
  return b.confidence - a.confidence || a.seq - b.seq;
}

/** Ordering "less confident first", ties → lower seq first. */
function lessConfident(
  a: { confidence: number; seq: number },
  b: { confidence: number; seq: number },
): number {
  return a.confidence - b.confidence || a.seq - b.seq;
}

/** Inserts into a short sorted list bounded at `limit`; returns false when the item does not make the cut. */
function wouldEnter<T>(list: T[], item: T, order: (a: T, b: T) => number, limit: number): boolean {
  return list.length < limit || order(item, list[list.length - 1] as T) < 0;
}

function insertBounded<T>(list: T[], item: T, order: (a: T, b: T) => number, limit: number): void {
  let i = list.length;
  while (i > 0 && order(item, list[i - 1] as T) < 0) i--;
  list.splice(i, 0, item);
  if (list.length > limit) list.pop();
}

function copyImage(image: FrameImage): FrameImage {
  return { ...image, data: image.data.slice() };
}

export class SampleCollector {
  private readonly top = new Map<number, Candidate[]>();
  private readonly bottom = new Map<number, Candidate[]>();
  private readonly counts = new Map<number, number>();
  private readonly seen = new Set<number>();

  private perEnd = PER_END;

  constructor(
    private readonly sampleCount = SAMPLE_COUNT,
    private readonly maxHeldClasses = MAX_HELD_CLASSES,
  ) {}

  /** Once enough classes are seen, only the first two candidates per end can ever be chosen. */
  private narrow(): void {
    if (this.perEnd === PER_END_MANY_CLASSES || this.counts.size < this.sampleCount) return;
    this.perEnd = PER_END_MANY_CLASSES;
    for (const list of [...this.top.values(), ...this.bottom.values()])
      list.length = Math.min(list.length, this.perEnd);
  }

  /**
   * Whether `label` may hold pixels: it already does, or there is room, or it is now predicted more often
   * than the least predicted held class (ties → the lower label), which then gives up its candidates.
   */
  private mayHold(label: number): boolean {
    if (this.top.has(label) || this.top.size < this.maxHeldClasses) return true;
    const count = this.counts.get(label) ?? 0;
    let weakest: number | undefined;
    let weakestCount = Number.POSITIVE_INFINITY;
    for (const held of this.top.keys()) {
      const c = this.counts.get(held) ?? 0;
      if (c < weakestCount || (c === weakestCount && held > (weakest as number))) {
        weakest = held;
        weakestCount = c;
      }
    }
    if (weakest === undefined || count < weakestCount || (count === weakestCount && label > weakest))
      return false;
    this.top.delete(weakest);
    this.bottom.delete(weakest);
    return true;
  }

  /**
   * One prediction with a view of its pixels (e.g. a frame-ring slot). The pixels are copied only if the
   * frame becomes a candidate, before the caller releases the view.
   */
  offer(seq: number, label: number, confidence: number, image: FrameImage): void {
    // A repeated seq would make the choice depend on arrival order; the first offer wins.
    if (this.seen.has(seq)) return;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
    this.narrow();
    const probe = { seq, label, confidence, image };
    const top = this.top.get(label) ?? [];
    const bottom = this.bottom.get(label) ?? [];
    const intoTop = wouldEnter(top, probe, moreConfident, this.perEnd);
    const intoBottom = wouldEnter(bottom, probe, lessConfident, this.perEnd);
    if (!intoTop && !intoBottom) return;
    if (!this.mayHold(label)) return;
    this.seen.add(seq);
    // One copy shared by both lists when a frame is in both (small classes).
    const candidate: Candidate = { seq, label, confidence, image: copyImage(image) };
    if (intoTop) insertBounded(top, candidate, moreConfident, this.perEnd);
    if (intoBottom) insertBounded(bottom, candidate, lessConfident, this.perEnd);
    this.top.set(label, top);
    this.bottom.set(label, bottom);
  }

  /** Number of frames whose pixels are currently held. */
  get heldFrames(): number {
    const held = new Set<Candidate>();
    for (const list of [...this.top.values(), ...this.bottom.values()]) for (const c of list) held.add(c);
    return held.size;
  }

  /**
   * The chosen samples. Classes are ranked by how often they were predicted (ties → lower label). With at
   * least `sampleCount` classes, the top classes each give one sample, alternating most- and least-confident
   * prediction; with fewer, rounds go over the classes taking the most confident, then the least confident,
   * then the next of each, until the count is met. Seqs in `exclude` (frames that failed to decode) are
   * passed over for the next candidate. Sorted by label, then seq.
   */
  samples(exclude: ReadonlySet<number> = new Set()): Sample[] {
    const classes = [...this.counts.entries()]
      .sort(([la, ca], [lb, cb]) => cb - ca || la - lb)
      .map(([label]) => label);
    const chosen: Sample[] = [];
    const taken = new Set<number>();
    const take = (candidate: Candidate | undefined, reason: SampleReason): boolean => {
      if (!candidate || taken.has(candidate.seq) || exclude.has(candidate.seq)) return false;
      if (chosen.length >= this.sampleCount) return false;
      taken.add(candidate.seq);
      const { seq, label, confidence, image } = candidate;
      chosen.push({ seq, label, confidence, reason, image });
      return true;
    };
    const reasonFor = (end: 'top' | 'bottom', rank: number): SampleReason =>
      rank > 0 ? 'fill' : end === 'top' ? 'most-confident' : 'least-confident';

    if (classes.length >= this.sampleCount) {
      classes.slice(0, this.sampleCount).forEach((label, i) => {
        const ends = i % 2 === 0 ? (['top', 'bottom'] as const) : (['bottom', 'top'] as const);
        for (let rank = 0; rank < PER_END; rank++) {
          const done = ends.some((end) =>
            take((end === 'top' ? this.top : this.bottom).get(label)?.[rank], reasonFor(end, rank)),
          );
          if (done) break;
        }
      });
    }
    // Fewer classes than samples (or candidates excluded): rounds over the classes until the count is met.
    for (let rank = 0; rank < PER_END && chosen.length < this.sampleCount; rank++) {
      for (const end of ['top', 'bottom'] as const) {
        for (const label of classes) {
          take((end === 'top' ? this.top : this.bottom).get(label)?.[rank], reasonFor(end, rank));
        }
      }
    }
    return chosen.sort((a, b) => a.label - b.label || a.seq - b.seq);
  }
}
