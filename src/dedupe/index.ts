/**
 * Public face of the dedupe stage: per-frame features and distances (pure, also used by the analysis
 * workers), the keyed unique store, live-stream dedupe with saves and its /api routes, and thresholds.
 */
export {
  DEFAULT_CHANGE_OPTIONS,
  borderCrop,
  changeScore,
  parseChangeOptions,
  type ChangeOptions,
  type GrayImage,
} from './change.js';
export {
  cosineDistance,
  dot,
  embeddingDistance,
  hammingDistance,
  l2Distance,
  l2Normalize,
  meanSquaredError,
  rmseDistance,
  type Metric,
} from './distance.js';
export { PHASH_INPUT_SIZE, hashToHex, hexToHash, perceptualHash } from './hash.js';
export {
  CNN_LAYOUT_THRESHOLD,
  DEFAULT_THRESHOLDS,
  FEATURE_KIND,
  MSE_THUMB_SIZE,
  THRESHOLD_MEANING,
  defaultThreshold,
  type Feature,
  type Method,
} from './methods.js';
export { MAX_SAVE_NAME_LENGTH, sanitizeSaveName } from '../common/save-name.js';
export {
  encodeKeptImage,
  writeUniquesFolder,
  type KeptImage,
  type ModelInfo,
  type SaveResult,
  type UniquesManifest,
} from './save.js';
export {
  InMemoryKeyedStore,
  createUniqueStore,
  type Decision,
  type KeyedUniqueStore,
  type UniqueStore,
  type UniqueStoreOptions,
} from './store.js';
export {
  StreamDeduper,
  type AcceptedFrame,
  type DedupeStatus,
  type StreamDeduperOptions,
  type UniqueInfo,
} from './stream-deduper.js';
export { ExactVectorIndex, HnswVectorIndex, TieredVectorIndex, type VectorIndex } from './vector-index.js';
export { scorePartition, type PairwiseScore } from './scoring.js';
export {
  BatchDeduper,
  IMAGE_EXTENSIONS,
  groupKeyFunction,
  isImageFile,
  listImageFiles,
  type BatchGroup,
  type BatchOutcome,
  type CloseCall,
} from './batch.js';
export { reportJson, writeBatchReport, type BatchReportJson } from './report.js';
