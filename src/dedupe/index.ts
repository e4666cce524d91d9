/**
 * Public face of the dedupe stage: per-frame features and distances (pure, also used by the analysis
 * workers; they import it through ./features.ts), the keyed unique store, live-stream dedupe with saves,
 * batch dedupe and thresholds.
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
  SEED_THRESHOLD_SCALE,
  THRESHOLD_MEANING,
  defaultThreshold,
  thresholdScale,
  thresholdSlider,
  type ThresholdSlider,
  type Feature,
  type Method,
} from './methods.js';
export { MAX_SAVE_NAME_BYTES, MAX_SAVE_NAME_LENGTH, sanitizeSaveName } from '../common/save-name.js';
export { SaveRefused } from './save-limits.js';
export {
  encodeKeptImage,
  renderKeptImage,
  writeUniquesFolder,
  type ThresholdChange,
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
  ABSORBED_BYTES_BUDGET,
  ABSORBED_IMAGES_PER_UNIQUE,
  type AbsorbedDuplicate,
  type UniqueDetail,
  type AcceptedFrame,
  type DedupeStatus,
  type StreamDeduperOptions,
  type UniqueInfo,
  type SaveOptions,
  type DedupeSaveResult,
} from './stream-deduper.js';
export {
  VIDEO_CODEC_NAMES,
  canvasFor,
  encodeVideo,
  videoCodecSpec,
  type EncodeVideoRequest,
  type EncodedVideo,
  type VideoCodecSpec,
} from './video-export.js';
export { writeFramesSave, type FramesManifest, type SaveAs, type SaveFrames } from './frames-save.js';
export { ExactVectorIndex, HnswVectorIndex, TieredVectorIndex, type VectorIndex } from './vector-index.js';
export { scorePartition, type PairwiseScore } from './scoring.js';
export {
  BatchDeduper,
  IMAGE_EXTENSIONS,
  groupKeyFunction,
  isImageFile,
  listImageFiles,
  listInputImages,
  type BatchGroup,
  type InputListing,
  type SkippedFolder,
  type SkippedInput,
  type BatchOutcome,
  type CloseCall,
} from './batch.js';
export { reportJson, writeBatchReport, type BatchReportJson } from './report.js';
