/**
 * Nearest-neighbour search over the kept vectors of one stream. The exact index keeps every vector in one
 * contiguous Float32Array (grown by doubling) and scans it with dot products; above a configurable size the
 * tiered index switches to an approximate HNSW graph (hnswlib-node) behind the same interface.
 */
import hnswlib from 'hnswlib-node';
import { dot, l2Normalize } from './distance.js';

/**
 * How vectors are compared: `cosine` and `l2` on L2-normalised vectors (1 − dot, and sqrt(2 − 2·dot));
 * `rmse` sqrt(mean squared difference) and `mse` mean squared difference of the raw values.
 */
export type VectorDistance = 'cosine' | 'l2' | 'rmse' | 'mse';

export interface NearestHit {
  /** Insertion number of the kept vector (0-based). */
  index: number;
  distance: number;
}

export interface VectorIndex {
  readonly dimension: number;
  readonly size: number;
  /** Vectors the index has room for without growing: what memory is spent on. */
  readonly capacity: number;
  /** Adds a vector (as given; the index normalises when its distance needs it) and returns its number. */
  add(vector: Float32Array): number;
  nearest(vector: Float32Array): NearestHit | undefined;
  /** The `k` nearest kept vectors, nearest first (fewer when fewer are kept). */
  nearestK(vector: Float32Array, k: number): NearestHit[];
}

function normalises(distance: VectorDistance): boolean {
  return distance === 'cosine' || distance === 'l2';
}

/** Distance from the dot product (normalised vectors) or from squared norms and dot (raw vectors). */
function fromDot(
  distance: VectorDistance,
  d: number,
  normA: number,
  normB: number,
  dimension: number,
): number {
  switch (distance) {
    case 'cosine':
      return Math.max(0, 1 - d);
    case 'l2':
      return Math.sqrt(Math.max(0, 2 - 2 * d));
    case 'mse':
      return Math.max(0, (normA + normB - 2 * d) / dimension);
    case 'rmse':
      return Math.sqrt(Math.max(0, (normA + normB - 2 * d) / dimension));
  }
}

export class ExactVectorIndex implements VectorIndex {
  private data: Float32Array;
  private norms: Float64Array;
  private count = 0;

  constructor(
    readonly dimension: number,
    readonly distance: VectorDistance,
    initialCapacity = 16,
  ) {
    this.data = new Float32Array(dimension * initialCapacity);
    this.norms = new Float64Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.norms.length;
  }

  /** The stored (normalised when the distance needs it) vector `index`, a view into the buffer. */
  vector(index: number): Float32Array {
    return this.data.subarray(index * this.dimension, (index + 1) * this.dimension);
  }

  private prepare(vector: Float32Array): Float32Array {
    if (vector.length !== this.dimension) {
      throw new Error(`vector of length ${vector.length}, the index holds ${this.dimension}`);
    }
    return normalises(this.distance) ? l2Normalize(vector) : vector;
  }

  add(vector: Float32Array): number {
    const v = this.prepare(vector);
    if (this.count === this.capacity) {
      // Doubling keeps appends amortised O(1) and the buffer contiguous for the scan.
      const data = new Float32Array(this.data.length * 2);
      data.set(this.data);
      this.data = data;
      const norms = new Float64Array(this.norms.length * 2);
      norms.set(this.norms);
      this.norms = norms;
    }
    this.data.set(v, this.count * this.dimension);
    this.norms[this.count] = dot(v, v);
    return this.count++;
  }

  nearest(vector: Float32Array): NearestHit | undefined {
    return this.nearestK(vector, 1)[0];
  }

  nearestK(vector: Float32Array, k: number): NearestHit[] {
    if (this.count === 0 || k < 1) return [];
    const v = this.prepare(vector);
    const norm = dot(v, v);
    // A short list kept sorted by insertion: k is 1 on every frame and a handful for the keypoint check.
    const hits: NearestHit[] = [];
    for (let i = 0; i < this.count; i++) {
      const d = fromDot(
        this.distance,
        dot(v, this.data, i * this.dimension),
        norm,
        this.norms[i]!,
        this.dimension,
      );
      if (hits.length === k && d >= hits[k - 1]!.distance) continue;
      let at = hits.length < k ? hits.length : k - 1;
      while (at > 0 && hits[at - 1]!.distance > d) {
        hits[at] = hits[at - 1]!;
        at--;
      }
      hits[at] = { index: i, distance: d };
    }
    return hits;
  }
}

export interface HnswOptions {
  m?: number;
  efConstruction?: number;
  efSearch?: number;
}

/** Approximate index: hnswlib's HNSW graph ('ip' space on normalised vectors, 'l2' on raw ones). */
export class HnswVectorIndex implements VectorIndex {
  private readonly index: hnswlib.HierarchicalNSW;
  private count = 0;
  private maxElements: number;

  constructor(
    readonly dimension: number,
    readonly distance: VectorDistance,
    initialCapacity = 1024,
    options: HnswOptions = {},
  ) {
    this.index = new hnswlib.HierarchicalNSW(normalises(distance) ? 'ip' : 'l2', dimension);
    this.maxElements = Math.max(16, initialCapacity);
    this.index.initIndex(this.maxElements, options.m ?? 16, options.efConstruction ?? 200, 100);
    this.index.setEf(options.efSearch ?? 64);
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.maxElements;
  }

  add(vector: Float32Array): number {
    if (vector.length !== this.dimension) {
      throw new Error(`vector of length ${vector.length}, the index holds ${this.dimension}`);
    }
    if (this.count === this.maxElements) {
      this.maxElements *= 2;
      this.index.resizeIndex(this.maxElements);
    }
    const v = normalises(this.distance) ? l2Normalize(vector) : vector;
    this.index.addPoint(Array.from(v), this.count);
    return this.count++;
  }

  nearest(vector: Float32Array): NearestHit | undefined {
    return this.nearestK(vector, 1)[0];
  }

  nearestK(vector: Float32Array, k: number): NearestHit[] {
    if (this.count === 0 || k < 1) return [];
    const v = normalises(this.distance) ? l2Normalize(vector) : vector;
    const result = this.index.searchKnn(Array.from(v), Math.min(k, this.count));
    return result.neighbors
      .map((index, i) => ({ index, distance: this.fromRaw(result.distances[i]!) }))
      .sort((a, b) => a.distance - b.distance);
  }

  private fromRaw(raw: number): number {
    switch (this.distance) {
      case 'cosine':
        return Math.max(0, raw); // hnswlib 'ip' distance is 1 − dot
      case 'l2':
        return Math.sqrt(Math.max(0, 2 * raw));
      case 'mse':
        return Math.max(0, raw) / this.dimension; // 'l2' space returns the squared distance
      case 'rmse':
        return Math.sqrt(Math.max(0, raw) / this.dimension);
    }
  }
}

/**
 * Exact search while small, approximate above `approximateAbove` vectors (0 = never): on crossing, the kept
 * vectors are copied into an HNSW graph and the exact buffer is dropped.
 */
export class TieredVectorIndex implements VectorIndex {
  private exact: ExactVectorIndex | undefined;
  private approximate: HnswVectorIndex | undefined;

  constructor(
    readonly dimension: number,
    readonly distance: VectorDistance,
    private readonly approximateAbove: number,
    private readonly hnswOptions: HnswOptions = {},
  ) {
    this.exact = new ExactVectorIndex(dimension, distance);
  }

  get kind(): 'exact' | 'hnsw' {
    return this.approximate ? 'hnsw' : 'exact';
  }

  get size(): number {
    return (this.approximate ?? this.exact)!.size;
  }

  get capacity(): number {
    return (this.approximate ?? this.exact)!.capacity;
  }

  add(vector: Float32Array): number {
    if (this.exact && this.approximateAbove > 0 && this.exact.size >= this.approximateAbove) {
      const graph = new HnswVectorIndex(this.dimension, this.distance, this.exact.size * 2, this.hnswOptions);
      // Stored exact vectors are already normalised when needed; normalising again is a no-op.
      for (let i = 0; i < this.exact.size; i++) graph.add(this.exact.vector(i));
      this.approximate = graph;
      this.exact = undefined;
    }
    return (this.approximate ?? this.exact)!.add(vector);
  }

  nearest(vector: Float32Array): NearestHit | undefined {
    return (this.approximate ?? this.exact)!.nearest(vector);
  }

  nearestK(vector: Float32Array, k: number): NearestHit[] {
    return (this.approximate ?? this.exact)!.nearestK(vector, k);
  }
}
