/** Shared by the pipeline's tests: the model they run. */
import path from 'node:path';
import type { ModelRef } from '../../../src/analysis/index.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

/** The project's Fashion-MNIST CNN (models/manifests/fashion-mnist-cnn.json), the classifier of `run`. */
export function testModel(): { ref: ModelRef; path: string; name: string } {
  return {
    ref: 'fashion-mnist-cnn',
    path: path.join(PROJECT_ROOT, 'models', 'fashion-mnist-cnn.onnx'),
    name: 'fashion-mnist-cnn',
  };
}
