/**
 * The unique store: the incremental keep-or-drop decision. Every frame is compared with the uniques kept
 * so far (for `change`: with the last kept frame); a frame farther than the threshold from all of them is
 * a new unique, otherwise a duplicate of its nearest unique. The first frame is always kept. Memory grows
 * with the number of uniques, never with the number of frames.
 *
 * Stores are keyed by stream (camera) id behind `KeyedUniqueStore`, so frames of different streams are
 * never compared and the store can later be partitioned across machines by that key.
 */
import { DEFAULT_CHANGE_OPTIONS, changeScore, type ChangeOptions, type GrayImage } from './change.js';
import { hammingDistance, type Metric } from './distance.js';
import type { Feature, Method } from './methods.js';
import { CNN_LAYOUT_THRESHOLD, FEATURE_KIND } from './methods.js';
import { TieredVectorIndex, type NearestHit, type VectorDistance } from './vector-index.js';

export type Decision =
  | {
      duplicate: false;
      /** Number of the new unique within its stream (0-based, in keep order). */
      unique: number;
      /** The nearest earlier unique and its distance (undefined for a stream's first frame). */
      nearest?: NearestHit;
    }
  | {
      duplicate: true;
      unique: number;
      distance: number;
      /**
       * Set when the keypoint check made this frame a duplicate: `distance` (the embedding's) is then above
       * the threshold, and these are the matches that agreed and the overlap's correlation.
       */
      keypoints?: KeypointMatch;
    };

/** A keypoint comparison: matches agreeing with one homography, and the NCC of the warped overlap. */
export interface KeypointMatch {
  inliers: number;
  ncc: number;
}

/**
 * A second opinion for a photo the cnn rule would keep (./keypoints.ts): the uniques whose embedding
 * distance lies in (threshold, upper] are offered to `verify`, nearest first, at most `maxChecks`; the
 * frame joins the first it matches.
 */
export interface GrayZoneCheck {
  upper: number;
  maxChecks: number;
  /** The frame's match with unique `unique` of its stream, or undefined when it is no copy of it. */
  verify(unique: number): KeypointMatch | undefined;
}

export interface UniqueStoreOptions {
  method: Method;
  metric: Metric;
  /** A frame at distance ≤ threshold from a kept frame is a duplicate. */
  threshold: number;
  /** Kept vectors above which the approximate (HNSW) index replaces exact search; 0 = always exact. */
  approximateAbove: number;
  change?: ChangeOptions;
}

/** The uniques of one stream. */
export interface UniqueStore {
  /** `check`: the keypoint check, consulted on photos (cnn with cosine) that the rule would keep. */
  decide(feature: Feature, check?: GrayZoneCheck): Decision;
  /**
   * The uniques `decide` would offer to a check with these bounds, in the order it would (none when the rule
   * decides alone): what a check can prepare off the main thread before the decision.
   */
  grayZone(feature: Feature, bounds: Pick<GrayZoneCheck, 'upper' | 'maxChecks'>): NearestHit[];
  /** The threshold of later decisions; settable live (earlier decisions stand). */
  threshold: number;
  readonly size: number;
  /** Uniques the store has room for without growing (memory is proportional to this). */
  readonly capacity: number;
}

/** Stores keyed by stream id: the seam along which uniques can be partitioned across machines. */
export interface KeyedUniqueStore {
  decide(streamId: string, feature: Feature, check?: GrayZoneCheck): Decision;
  grayZone(
    streamId: string,
    feature: Feature,
    bounds: Pick<GrayZoneCheck, 'upper' | 'maxChecks'>,
  ): NearestHit[];
  size(streamId: string): number;
  streams(): string[];
  /** Sum of the capacities of every stream's store. */
  readonly capacity: number;
  /** The threshold of later decisions in every stream, including streams not seen yet. */
  threshold: number;
}

function checkKind(method: Method, feature: Feature): void {
  if (feature.kind !== FEATURE_KIND[method]) {
    throw new Error(`dedupe method ${method} needs a ${FEATURE_KIND[method]} feature, got ${feature.kind}`);
  }
}

/** A frame's verdict under the rule, before the store changes (VectorStore.judge). */
interface Judged {
  index: TieredVectorIndex;
  vector: Float32Array;
  layout: Float32Array | undefined;
  nearest: NearestHit | undefined;
  /** The k nearest uniques, nearest first. */
  hits: NearestHit[];
  /** The rule's match (embedding or layout, the closer on the threshold's scale), if any. */
  match: { index: number; distance: number } | undefined;
}

class VectorStore implements UniqueStore {
  private index: TieredVectorIndex | undefined;
  threshold: number;
  /** cnn on photos: the layout thumbnails of the uniques, numbered like `index`. */
  private layouts: TieredVectorIndex | undefined;
  private last: { feature: Feature; size: number; threshold: number; k: number; judged: Judged } | undefined;
  constructor(
    private readonly options: UniqueStoreOptions,
    private readonly distance: VectorDistance,
  ) {
    this.threshold = options.threshold;
  }

  get size(): number {
    return this.index?.size ?? 0;
  }
  get capacity(): number {
    return this.index?.capacity ?? 0;
  }

  /**
   * The rule's verdict without changing the store: the match, if any, and the `k` nearest uniques (one
   * scan gives the nearest and a gray zone's few alike). The last verdict is kept: the decision that
   * follows a `grayZone` of the same feature, with the store unchanged, reuses it instead of scanning again.
   */
  private judge(feature: Feature, k = 1): Judged {
    const last = this.last;
    if (
      last?.feature === feature &&
      last.size === this.size &&
      last.threshold === this.threshold &&
      last.k >= k
    )
      return last.judged;
    checkKind(this.options.method, feature);
    const vector =
      feature.kind === 'embedding' ? feature.vector : (feature as { pixels: Float32Array }).pixels;
    this.index ??= new TieredVectorIndex(vector.length, this.distance, this.options.approximateAbove);
    const hits = this.index.nearestK(vector, k);
    const nearest = hits[0];
    const layout = feature.kind === 'embedding' ? feature.layout : undefined;
    if (this.layouts && !layout)
      throw new Error('cnn feature without a layout thumbnail in a store of photos');
    // The layout rule's match, on the threshold's scale so "distance ≤ threshold" still means duplicate.
    let byLayout: { index: number; distance: number } | undefined;
    if (layout && (this.layouts || this.index.size === 0)) {
      this.layouts ??= new TieredVectorIndex(layout.length, 'cosine', this.options.approximateAbove);
      const close = this.layouts.nearest(layout);
      if (close && close.distance <= CNN_LAYOUT_THRESHOLD)
        byLayout = { index: close.index, distance: (close.distance / CNN_LAYOUT_THRESHOLD) * this.threshold };
    }
    // When both rules match, the closer match on that common scale wins: a frame whose layout is nearly
    // identical to one unique's joins that unique even if another is a little closer in embedding
    // (measured: docs/dedupe.md, "Which unique a duplicate joins").
    const byEmbedding = nearest && nearest.distance <= this.threshold ? nearest : undefined;
    const match =
      byEmbedding && byLayout
        ? byLayout.distance < byEmbedding.distance
          ? byLayout
          : byEmbedding
        : (byEmbedding ?? byLayout);
    const judged = { index: this.index, vector, layout, nearest, hits, match };
    this.last = { feature, size: this.size, threshold: this.threshold, k, judged };
    return judged;
  }

  grayZone(feature: Feature, bounds: Pick<GrayZoneCheck, 'upper' | 'maxChecks'>): NearestHit[] {
    return this.grayZoneOf(this.judge(feature, bounds.maxChecks), bounds);
  }

  private grayZoneOf(
    { layout, hits, match }: Judged,
    bounds: Pick<GrayZoneCheck, 'upper' | 'maxChecks'>,
  ): NearestHit[] {
    // Only photos (a layout thumbnail) on the cosine scale the check was measured on.
    if (match || !layout || this.options.metric !== 'cosine') return [];
    return hits.slice(0, bounds.maxChecks).filter((hit) => hit.distance <= bounds.upper);
  }

  decide(feature: Feature, check?: GrayZoneCheck): Decision {
    const judged = this.judge(feature, check?.maxChecks);
    const { index, vector, layout, nearest, match } = judged;
    if (match) return { duplicate: true, unique: match.index, distance: match.distance };
    for (const hit of check ? this.grayZoneOf(judged, check) : []) {
      const keypoints = check!.verify(hit.index);
      if (keypoints) return { duplicate: true, unique: hit.index, distance: hit.distance, keypoints };
    }
    if (layout && this.layouts) this.layouts.add(layout);
    return { duplicate: false, unique: index.add(vector), nearest };
  }
}

class HashStore implements UniqueStore {
  // Two 32-bit halves per hash: popcount on numbers is far cheaper than on bigints.
  private high = new Uint32Array(16);
  private low = new Uint32Array(16);
  private count = 0;
  constructor(public threshold: number) {}

  get size(): number {
    return this.count;
  }
  get capacity(): number {
    return this.high.length;
  }

  /** Hashes are never checked by keypoints (./keypoints.ts is part of the cnn rule on photos). */
  grayZone(): NearestHit[] {
    return [];
  }

  decide(feature: Feature): Decision {
    checkKind('phash', feature);
    const hash = (feature as { hash: bigint }).hash;
    let best = -1;
    let bestDistance = Infinity;
    for (let i = 0; i < this.count; i++) {
      const d = hammingDistance(hash, (BigInt(this.high[i]!) << 32n) | BigInt(this.low[i]!));
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    }
    if (best >= 0 && bestDistance <= this.threshold) {
      return { duplicate: true, unique: best, distance: bestDistance };
    }
    if (this.count === this.high.length) {
      const high = new Uint32Array(this.count * 2);
      high.set(this.high);
      const low = new Uint32Array(this.count * 2);
      low.set(this.low);
      this.high = high;
      this.low = low;
    }
    this.high[this.count] = Number(BigInt.asUintN(64, hash) >> 32n);
    this.low[this.count] = Number(BigInt.asUintN(64, hash) & 0xffffffffn);
    return {
      duplicate: false,
      unique: this.count++,
      nearest: best >= 0 ? { index: best, distance: bestDistance } : undefined,
    };
  }
}

/** `change` compares with the last kept frame only: a fixed camera's scene drifts slowly. */
class ChangeStore implements UniqueStore {
  private last: GrayImage | undefined;
  private count = 0;
  constructor(
    public threshold: number,
    private readonly options: ChangeOptions,
  ) {}

  get size(): number {
    return this.count;
  }
  get capacity(): number {
    return this.last ? 1 : 0;
  }

  grayZone(): NearestHit[] {
    return [];
  }

  decide(feature: Feature): Decision {
    checkKind('change', feature);
    const image = (feature as { image: GrayImage }).image;
    if (this.last) {
      // A frame of another size (the camera changed resolution) counts as fully changed.
      const sameSize = this.last.width === image.width && this.last.height === image.height;
      const score = sameSize ? changeScore(this.last, image, this.options) : 1;
      if (score <= this.threshold) return { duplicate: true, unique: this.count - 1, distance: score };
      const nearest = { index: this.count - 1, distance: score };
      this.last = image;
      return { duplicate: false, unique: this.count++, nearest };
    }
    this.last = image;
    return { duplicate: false, unique: this.count++ };
  }
}

export function createUniqueStore(options: UniqueStoreOptions): UniqueStore {
  switch (options.method) {
    case 'cnn':
      return new VectorStore(options, options.metric);
    case 'mse':
      return new VectorStore(options, 'mse');
    case 'phash':
      return new HashStore(options.threshold);
    case 'change':
      return new ChangeStore(options.threshold, options.change ?? DEFAULT_CHANGE_OPTIONS);
  }
}

/** In-process keyed store: one UniqueStore per stream id, created on a stream's first frame. */
export class InMemoryKeyedStore implements KeyedUniqueStore {
  private readonly stores = new Map<string, UniqueStore>();
  private current: number;
  constructor(private readonly options: UniqueStoreOptions) {
    this.current = options.threshold;
  }

  get threshold(): number {
    return this.current;
  }
  set threshold(value: number) {
    if (!(value >= 0)) throw new RangeError(`threshold: expected a number ≥ 0, got ${value}`);
    this.current = value;
    for (const store of this.stores.values()) store.threshold = value;
  }

  decide(streamId: string, feature: Feature, check?: GrayZoneCheck): Decision {
    let store = this.stores.get(streamId);
    if (!store) {
      store = createUniqueStore({ ...this.options, threshold: this.current });
      this.stores.set(streamId, store);
    }
    return store.decide(feature, check);
  }

  grayZone(
    streamId: string,
    feature: Feature,
    bounds: Pick<GrayZoneCheck, 'upper' | 'maxChecks'>,
  ): NearestHit[] {
    // A stream not seen yet keeps its first frame whatever it is.
    return this.stores.get(streamId)?.grayZone(feature, bounds) ?? [];
  }

  size(streamId: string): number {
    return this.stores.get(streamId)?.size ?? 0;
  }

  streams(): string[] {
    return [...this.stores.keys()];
  }

  get capacity(): number {
    let total = 0;
    for (const store of this.stores.values()) total += store.capacity;
    return total;
  }
}
