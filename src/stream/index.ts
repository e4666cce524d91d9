/**
 * The stream stage: frame sources, the frame and control servers, session state, and scoring of
 * submitted results. Public face used by the commands (serve, dataset, the demo) and tests.
 */
export {
  startStreamServer,
  type StreamServer,
  type StreamServerOptions,
  type SessionSnapshot,
} from './server.js';
export { openSource, BUILTIN_SOURCES, DEFAULT_SOURCE, type OpenSourceOptions } from './sources/index.js';
export type {
  CameraSourceOptions,
  FrameIteratorOptions,
  FrameSource,
  OpenCameraSource,
  SourceFrame,
  SourceInfo,
} from './sources/source.js';
export {
  FASHION_MNIST_CLASSES,
  fashionMnistDir,
  loadFashionMnist,
  type FashionMnistSplit,
} from './fashion-mnist.js';
export { readIdxFile, parseIdx, encodeIdx, type IdxArray, type LabelledImages } from './idx.js';
export {
  DATASET_FORMAT,
  drawIndices,
  encodeDatasetFile,
  readDatasetFile,
  writeDatasetFile,
  type DatasetHeader,
} from './dataset-file.js';
export { scoreSubmission, type Score, type ClassScore, type ServerReconciliation } from './scoring.js';
export { Pacer } from './pacer.js';
export { cameraHealth, type CameraHealth } from './sources/camera-health.js';
export {
  decodeVideo,
  VideoDecodeError,
  type DecodeOptions,
  type DecodedFrame,
  type FrameBound,
} from './video-decoder.js';
export {
  videoFramesEvery,
  videoFrameAt,
  isVideoFile,
  type VideoFrameSample,
  type VideoFramesOptions,
} from './video-frames.js';
export type { VideoSourceOptions } from './sources/source.js';
