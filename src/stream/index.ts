/**
 * The stream stage: frame sources, the frame and control servers, session state, and scoring of
 * submitted results. Public face used by the commands (serve, dataset, the demo) and tests.
 */
export { startStreamServer, type StreamServer } from './server.js';
export { openSource } from './sources/index.js';
export { fashionMnistDir, loadFashionMnist } from './fashion-mnist.js';
export { drawIndices, encodeDatasetFile, writeDatasetFile } from './dataset-file.js';
export { scoreSubmission } from './scoring.js';
export { Pacer } from './pacer.js';
export { cameraHealth, type CameraHealth } from './sources/camera-health.js';
