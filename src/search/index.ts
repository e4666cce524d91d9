/**
 * The search stage: a persistent similar-image index. A store of record (SQLite file or MariaDB) holds
 * images, their vectors, the model that computed them and precomputed neighbour lists; an HNSW graph beside
 * it answers approximate queries, an exact scan is the reference. The embedder is injected (the commands
 * pass the analysis pool's photo embedder), so this stage never starts workers itself.
 */
export {
  SCHEMA_VERSION,
  ModelMismatchError,
  imageLabel,
  videoJson,
  type ImageWrite,
  type ModelStamp,
  type SearchStore,
  type StoredImage,
} from './store.js';
export { redactUrl } from './mariadb-store.js';
export { DEFAULT_DB, openStore, defaultAnnFile, isServerUrl } from './open.js';
export { AnnIndex, ExactIndex, DEFAULT_HNSW, efFor, type Hit } from './vectors.js';
export { Searcher, UnknownImageError, type SearchHit } from './searcher.js';
export { indexFolder, type Embedder, type Embedding, type IndexReport } from './indexer.js';
export { computeNeighbours, type NeighboursReport } from './neighbours.js';
