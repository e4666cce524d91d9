/**
 * Analysis stage: ONNX models (registry, loading with sha256 verification, preprocessing) and — with the
 * worker pool — classification and embedding of frames.
 */
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
  hwcToNchw,
  modelManifestSchema,
  PROJECT_MODELS_DIR,
  MANIFESTS_DIR,
  type ModelManifest,
  type LoadedModel,
  type LoadModelOptions,
  type ModelOutputs,
} from './models.js';
