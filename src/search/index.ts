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
  videoTime,
  type ImageWrite,
  type ModelStamp,
  type NeighbourList,
  type NeighbourState,
  type SearchStore,
  type StoredFile,
  type StoredImage,
} from './store.js';
export { SqliteStore } from './sqlite-store.js';
export { MariaDbStore, redactUrl } from './mariadb-store.js';
export { DEFAULT_DB, openStore, defaultAnnFile, isServerUrl } from './open.js';
export { AnnIndex, ExactIndex, TopK, DEFAULT_HNSW, type Hit, type HnswParams } from './vectors.js';
export { Searcher, UnknownImageError, type SearchHit, type SearchOptions } from './searcher.js';
export {
  indexFolder,
  sha256OfFile,
  type Embedder,
  type EmbedderWork,
  type Embedding,
  type IndexTimings,
  type VideoFrame,
  type IndexFolderOptions,
  type IndexProgress,
  type IndexReport,
} from './indexer.js';
export { computeNeighbours, type NeighboursOptions, type NeighboursReport } from './neighbours.js';
