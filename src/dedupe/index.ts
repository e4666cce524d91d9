/**
 * Public face of the dedupe stage, as the commands use it: the live unique store with its saves
 * (StreamDeduper), the keyed unique store, batch dedupe and its report, thresholds and change options.
 * The analysis workers never load it: they use the pure per-frame functions through ./features.ts.
 */
export { parseChangeOptions, type ChangeOptions } from './change.js';
export { l2Normalize, type Metric } from './distance.js';
export { hashToHex, hexToHash } from './hash.js';
export {
  THRESHOLD_MEANING,
  defaultThreshold,
  thresholdSlider,
  type ThresholdSlider,
  type Feature,
  type Method,
} from './methods.js';
export { SaveRefused } from './save-limits.js';
export { renderKeptImage, writeUniquesFolder, type KeptImage, type SaveResult } from './save.js';
export { InMemoryKeyedStore, createUniqueStore, type KeypointMatch } from './store.js';
export {
  KEYPOINT_SETTINGS,
  KeypointCheck,
  keypointAddon,
  keypointImageOf,
  type KeypointImage,
  type KeypointCounts,
  type KeypointSettings,
  type KeypointsWhen,
} from './keypoints.js';
export { StreamDeduper, type SaveOptions, type DedupeSaveResult } from './stream-deduper.js';
export { scorePartition } from './scoring.js';
export {
  BatchDeduper,
  groupKeyFunction,
  isImageFile,
  listImageFiles,
  listInputImages,
  type SkippedFolder,
} from './batch.js';
export { writeBatchReport, type BatchReportJson } from './report.js';
export { videoCodecSpec } from './video-export.js';
