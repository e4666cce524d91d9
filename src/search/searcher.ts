/**
 * Queries over one store: by vector (an embedded query image) or by the id of an indexed image, exact or
 * through the ANN index. The indexes are loaded on first use and refreshed when the store's revision moves
 * (another process indexed meanwhile), so a long-running server answers from current data.
 */
import { UserError } from '../common/errors.js';
import {
  ModelMismatchError,
  sameModel,
  type ModelStamp,
  type SearchStore,
  type StoredImage,
} from './store.js';
import { AnnIndex, DEFAULT_HNSW, ExactIndex, type Hit, type HnswParams } from './vectors.js';

export interface SearchOptions {
  k: number;
  /** Scan every vector instead of asking the ANN index. */
  exact?: boolean;
}

export interface SearchHit extends Hit {
  image: StoredImage;
}

/** An id that is not in the index: the API answers 404, the CLI one line. */
export class UnknownImageError extends UserError {
  constructor(location: string, id: number | string) {
    super(`image ${id}: not in the index ${location} (expected the id of an indexed image)`);
    this.name = 'UnknownImageError';
  }
}

export class Searcher {
  private ann?: { index: AnnIndex; rev: number };
  private exact?: { index: ExactIndex; rev: number };

  constructor(
    readonly store: SearchStore,
    /** Where the ANN graph is persisted (beside the database); undefined = in memory only. */
    private readonly annFile: string | undefined,
    private readonly hnsw: HnswParams = DEFAULT_HNSW,
  ) {}

  /** The model of the store; an empty store has none and finds nothing. */
  async model(): Promise<ModelStamp | undefined> {
    return this.store.model();
  }

  /** Throws when the query vector comes from another model than the store's. */
  async checkModel(stamp: ModelStamp): Promise<void> {
    const stored = await this.store.model();
    if (stored && !sameModel(stored, stamp)) throw new ModelMismatchError(this.store.location, stored, stamp);
  }

  private async annIndex(): Promise<AnnIndex> {
    const rev = await this.store.revision();
    if (!this.ann || this.ann.rev !== rev) {
      const index = this.annFile
        ? await AnnIndex.open(this.store, this.annFile, this.hnsw)
        : await AnnIndex.rebuild(this.store, undefined, this.hnsw);
      this.ann = { index, rev };
    }
    return this.ann.index;
  }

  private async exactIndex(): Promise<ExactIndex> {
    const rev = await this.store.revision();
    if (!this.exact || this.exact.rev !== rev) {
      const model = await this.store.model();
      this.exact = { index: await ExactIndex.load(this.store, model?.dimension ?? 1), rev };
    }
    return this.exact.index;
  }

  /** Brings the persisted ANN graph up to date now (after indexing), instead of at the first query. */
  async syncAnn(): Promise<AnnIndex> {
    return this.annIndex();
  }

  async searchVector(vector: Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    const model = await this.store.model();
    if (!model) return [];
    if (vector.length !== model.dimension) {
      throw new UserError(
        `query vector has ${vector.length} dimensions, the index ${this.store.location} holds ${model.dimension}-d vectors of ${model.name}: re-index with the same model`,
      );
    }
    const hits = options.exact
      ? (await this.exactIndex()).search(vector, options.k)
      : (await this.annIndex()).search(vector, options.k);
    return this.withImages(hits);
  }

  async searchId(id: number, options: SearchOptions): Promise<SearchHit[]> {
    const vector = await this.store.vector(id);
    if (!vector) throw new UnknownImageError(this.store.location, id);
    const hits = await this.searchVector(vector, options);
    // The image itself comes first (distance ~0); among exact ties the graph may order it second.
    const self = hits.findIndex((h) => h.id === id);
    // (Byte-identical copies tie at distance ~0, apart only by float rounding.)
    if (self > 0 && hits[self]!.distance <= hits[0]!.distance + 1e-6) hits.unshift(...hits.splice(self, 1));
    return hits;
  }

  private async withImages(hits: Hit[]): Promise<SearchHit[]> {
    const images = await this.store.images(hits.map((h) => h.id));
    const out: SearchHit[] = [];
    for (const hit of hits) {
      const image = images.get(hit.id);
      if (image) out.push({ ...hit, image }); // removed between the index and this read: skip
    }
    return out;
  }
}
