/**
 * The analysis stage: a Piscina pool of worker threads that classify and embed frames read in place from
 * the frame ring. Tasks are typed by `kind` (tasks.ts); the worker dispatches each kind to its handler.
 */
export { createAnalysisPool, defaultThreads, defaultIntraOpThreads } from './pool.js';
export type { AnalysisPool } from './pool.js';
export type { ClassifyResult, ModelRef, WarmupResult, WorkerTestHooks } from './tasks.js';
export type { ImagesResult } from './tasks/images.js';
export { featureOf } from './features.js';

// The model registry: manifests, lookup (MODELS_DIR, then models/), sha256 check, loading, preprocessing.
export { loadModel, loadManifest, locateModelFile, verifyModelFile, loadLabels } from './models.js';
