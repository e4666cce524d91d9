/** Shared by the pipeline's tests: the model they run. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelRef } from '../../../src/analysis/index.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

/**
 * The project's Fashion-MNIST CNN (models/manifests/fashion-mnist-cnn.json). Until it is trained, an
 * untrained export of the same graph (training/train_fashion_mnist.py --epochs 0) named by
 * FRAMESIFT_TEST_TMP_MODEL stands in.
 */
export function testModel(): { ref: ModelRef; path: string; name: string | null } {
  const manifest = path.join(PROJECT_ROOT, 'models', 'manifests', 'fashion-mnist-cnn.json');
  const file = path.join(PROJECT_ROOT, 'models', 'fashion-mnist-cnn.onnx');
  if (existsSync(manifest) && existsSync(file))
    return { ref: 'fashion-mnist-cnn', path: file, name: 'fashion-mnist-cnn' };
  const tmp = process.env.FRAMESIFT_TEST_TMP_MODEL ?? '/tmp/fs-pipe/fashion-tmp.onnx';
  return {
    ref: {
      path: tmp,
      input: { name: 'input', channels: 1, height: 28, width: 28 },
      outputs: { logits: 'logits', embedding: 'embedding' },
    },
    path: tmp,
    name: null,
  };
}
