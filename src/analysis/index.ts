/**
 * The analysis stage: a Piscina pool of worker threads that classify and embed frames read in place from
 * the frame ring. Tasks are typed by `kind` (tasks.ts); the worker dispatches each kind to its handler.
 */
export { createAnalysisPool, defaultThreads, defaultIntraOpThreads } from './pool.js';
export type { AnalysisPool, AnalysisPoolOptions } from './pool.js';
export type {
  AnalysisTask,
  ClassifyResult,
  ClassifyTask,
  FrameFailure,
  ModelRef,
  ResultOf,
  TaskKind,
  TaskMap,
  WarmupResult,
  WarmupTask,
  WorkerTestHooks,
} from './tasks.js';
export type { ImagesResult, ImagesTask } from './tasks/images.js';
export { featureOf } from './features.js';

// The model registry: manifests, lookup (MODELS_DIR, then models/), sha256 check, loading, preprocessing.
export {
  loadModel,
  loadManifest,
  listModelNames,
  parseManifest,
  locateModelFile,
  modelSearchDirs,
  verifyModelFile,
  sha256File,
  loadLabels,
  runModel,
  preprocessImage,
  modelManifestSchema,
  PROJECT_MODELS_DIR,
  MANIFESTS_DIR,
  type ModelManifest,
  type LoadedModel,
  type LoadModelOptions,
  type ModelOutputs,
} from './models.js';
export { hwcToNchw } from './preprocess.js';
