/**
 * Search over a store's vectors: exact (every vector scanned, the reference for recall) and approximate
 * (an HNSW graph from hnswlib-node, persisted beside the database and brought up to date from the store's
 * revisions). Both answer cosine distances of L2-normalised vectors (1 − cos, 0 = same direction), the
 * distance dedupe's cnn method uses.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import hnswlib from 'hnswlib-node';
import { loggerFor } from '../common/logger.js';
import { dot, l2Normalize } from '../common/vector.js';
import type { ModelStamp, SearchStore } from './store.js';

const log = loggerFor('search');

export interface Hit {
  id: number;
  distance: number;
}

/** The k smallest (distance, id) pairs of a scan, kept in a small sorted array (k ≪ n). */
export class TopK {
  readonly ids: number[] = [];
  readonly distances: number[] = [];

  constructor(readonly k: number) {}

  get worst(): number {
    return this.ids.length < this.k ? Number.POSITIVE_INFINITY : this.distances[this.k - 1]!;
  }

  offer(id: number, distance: number): void {
    if (distance >= this.worst) return;
    let i = this.ids.length < this.k ? this.ids.length : this.k - 1;
    // Shift larger entries right; ties keep the earlier (smaller) id first.
    while (i > 0 && this.distances[i - 1]! > distance) {
      this.distances[i] = this.distances[i - 1]!;
      this.ids[i] = this.ids[i - 1]!;
      i--;
    }
    this.distances[i] = distance;
    this.ids[i] = id;
  }

  hits(): Hit[] {
    return this.ids.map((id, i) => ({ id, distance: this.distances[i]! }));
  }
}

/** Every vector in one contiguous, normalised Float32Array; a query is one pass of dot products. */
export class ExactIndex {
  private data: Float32Array;
  private ids: Int32Array;
  private count = 0;

  constructor(
    readonly dimension: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(dimension * capacity);
    this.ids = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(id: number, vector: Float32Array): void {
    if (this.count === this.ids.length) {
      const data = new Float32Array(this.data.length * 2);
      data.set(this.data);
      this.data = data;
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    this.data.set(l2Normalize(vector), this.count * this.dimension);
    this.ids[this.count++] = id;
  }

  search(query: Float32Array, k: number): Hit[] {
    const q = l2Normalize(query);
    const top = new TopK(Math.max(1, k));
    for (let i = 0; i < this.count; i++) {
      top.offer(this.ids[i]!, Math.max(0, 1 - dot(q, this.data, i * this.dimension)));
    }
    return top.hits();
  }

  static async load(store: SearchStore, dimension: number): Promise<ExactIndex> {
    const index = new ExactIndex(dimension, Math.max(16, await store.count()));
    await store.scanVectors((id, vector) => index.add(id, vector));
    return index;
  }
}

export interface HnswParams {
  /** Graph degree (hnswlib M). */
  m: number;
  efConstruction: number;
  /**
   * Candidates kept while searching, raised to k when k is larger; undefined (the default) = `efFor`, which
   * grows with the index size.
   */
  efSearch?: number;
}

export const DEFAULT_HNSW: HnswParams = { m: 16, efConstruction: 100 };

/**
 * The query-time ef for `count` indexed vectors and top-k: a graph of more vectors needs more candidates for
 * the same recall. Measured with `npm run bench -- search` (docs/search.md) on 1024-d vectors clustered around
 * real embeddings: recall@10 vs exact is ≥ 0.996 at ef 128 up to 50,000 vectors, but 0.976 at 250,000,
 * where ef 256 gives 0.992 (p99 of top-100 5 ms). So ef is 128 up to 62,500 vectors and grows with the
 * square root of the count beyond: 256 at 250,000, 512 at 1,000,000.
 */
export function efFor(count: number, k: number): number {
  return Math.max(k, 128, Math.ceil(256 * Math.sqrt(count / 250_000)));
}

/** What the sidecar `<ann file>.json` records, so a stale or foreign graph is never used. */
interface AnnMeta {
  format: 'framesift-hnsw/1';
  model: string;
  dimension: number;
  rev: number;
  m: number;
  efConstruction: number;
}

/**
 * The approximate index of a store. `open` loads the persisted graph when it belongs to the same model and
 * parameters, replays the writes and removals the store made since the graph's revision, and saves it;
 * a missing, foreign or unreadable graph is rebuilt from the store.
 */
export class AnnIndex {
  private constructor(
    private readonly index: hnswlib.HierarchicalNSW,
    readonly dimension: number,
    readonly params: HnswParams,
    /** Vectors searchable (the store's count at `rev`). */
    private live: number,
    readonly rev: number,
  ) {}

  get size(): number {
    return this.live;
  }

  static async open(store: SearchStore, file: string, params: HnswParams = DEFAULT_HNSW): Promise<AnnIndex> {
    const model = await store.model();
    const rev = await store.revision();
    const dimension = model?.dimension ?? 1;
    const meta = readMeta(file);
    const usable =
      model &&
      meta &&
      existsSync(file) &&
      meta.model === model.sha256 &&
      meta.dimension === dimension &&
      meta.m === params.m &&
      meta.efConstruction === params.efConstruction &&
      meta.rev <= rev;
    if (usable) {
      try {
        const index = new hnswlib.HierarchicalNSW('ip', dimension);
        index.readIndexSync(file);
        const ann = new AnnIndex(index, dimension, params, await store.count(), rev);
        if (meta.rev === rev) return ann;
        const changed = await ann.catchUp(store, meta.rev);
        if (changed <= Math.max(1000, ann.live)) {
          ann.save(file, model);
          log.info('ANN index brought up to date', { file, fromRev: meta.rev, rev, changed, size: ann.live });
          return ann;
        }
      } catch (err) {
        log.warn('ANN index unreadable: rebuilding', { file, error: String(err) });
      }
    }
    return AnnIndex.rebuild(store, file, params, model, rev);
  }

  /** Builds the graph from every vector of the store and saves it (when the store has a model). */
  static async rebuild(
    store: SearchStore,
    file: string | undefined,
    params: HnswParams,
    model?: ModelStamp,
    rev?: number,
  ): Promise<AnnIndex> {
    model ??= await store.model();
    rev ??= await store.revision();
    const dimension = model?.dimension ?? 1;
    const started = performance.now();
    const index = new hnswlib.HierarchicalNSW('ip', dimension);
    const capacity = Math.max(16, await store.count());
    index.initIndex({
      maxElements: capacity,
      m: params.m,
      efConstruction: params.efConstruction,
      randomSeed: 100,
    });
    const ann = new AnnIndex(index, dimension, params, 0, rev);
    await store.scanVectors((id, vector) => {
      ann.put(id, vector);
      ann.live++;
    });
    if (file && model) ann.save(file, model);
    log.info('ANN index built', { file, size: ann.live, seconds: (performance.now() - started) / 1000 });
    return ann;
  }

  /** Every label in the graph, including those marked deleted (hnswlib keeps them until replaced). */
  private labels?: Set<number>;

  private labelSet(): Set<number> {
    return (this.labels ??= new Set(this.index.getIdsList()));
  }

  /** Adds or replaces the vector of `id` (hnswlib updates an existing label in place, deleted or not). */
  put(id: number, vector: Float32Array): void {
    const labels = this.labelSet();
    if (!labels.has(id) && this.index.getCurrentCount() >= this.index.getMaxElements()) {
      this.index.resizeIndex(Math.max(16, this.index.getMaxElements() * 2));
    }
    this.index.addPoint(Array.from(l2Normalize(vector)), id);
    labels.add(id);
  }

  remove(id: number): void {
    if (!this.labelSet().has(id)) return;
    try {
      this.index.markDelete(id);
    } catch {
      // already marked deleted
    }
  }

  /** Applies the store's changes after `sinceRev`; returns how many. */
  private async catchUp(store: SearchStore, sinceRev: number): Promise<number> {
    let changed = 0;
    for (const id of await store.removedSince(sinceRev)) {
      this.remove(id);
      changed++;
    }
    await store.scanVectors((id, vector) => {
      this.put(id, vector);
      changed++;
    }, sinceRev);
    return changed;
  }

  /** The ef a top-k query uses: the fixed `efSearch` when set, else the size rule (`efFor`). */
  efFor(k: number): number {
    return Math.max(k, this.params.efSearch ?? efFor(this.live, k));
  }

  search(query: Float32Array, k: number, ef = this.efFor(k)): Hit[] {
    const n = Math.min(k, this.live);
    if (n <= 0) return [];
    this.index.setEf(Math.max(ef, n));
    const result = this.index.searchKnn(Array.from(l2Normalize(query)), n);
    return result.neighbors
      .map((id, i) => ({ id, distance: Math.max(0, result.distances[i]!) }))
      .sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** The k nearest of the indexed image `id` (itself included), from the vector the graph holds. */
  searchById(id: number, k: number, ef = this.efFor(k)): Hit[] {
    const n = Math.min(k, this.live);
    if (n <= 0 || !this.labelSet().has(id)) return [];
    this.index.setEf(Math.max(ef, n));
    const result = this.index.searchKnn(this.index.getPoint(id), n);
    return result.neighbors
      .map((label, i) => ({ id: label, distance: Math.max(0, result.distances[i]!) }))
      .sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** Writes the graph and its sidecar atomically (temp file, then rename). */
  save(file: string, model: ModelStamp): void {
    const tmp = `${file}.tmp-${process.pid}`;
    this.index.writeIndexSync(tmp);
    renameSync(tmp, file);
    const meta: AnnMeta = {
      format: 'framesift-hnsw/1',
      model: model.sha256,
      dimension: model.dimension,
      rev: this.rev,
      m: this.params.m,
      efConstruction: this.params.efConstruction,
    };
    writeFileSync(`${file}.json.tmp-${process.pid}`, JSON.stringify(meta));
    renameSync(`${file}.json.tmp-${process.pid}`, `${file}.json`);
  }
}

function readMeta(file: string): AnnMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as AnnMeta;
    return meta.format === 'framesift-hnsw/1' ? meta : undefined;
  } catch {
    return undefined;
  }
}
