/**
 * Where tests find their data: only what the repository ships, so that `npm test` passes in a fresh clone
 * with nothing beside it. Real photos with ground truth are in tests/fixtures/ (see its README), the
 * Fashion-MNIST test split in data/fashion-mnist/, the models in models/.
 *
 * The one exception is MobileNetV2, an optional model the project does not ship (models/README.md says how
 * to obtain it): tests that need it ask `optionalModelsDir`, which finds it in MODELS_DIR or skips them with
 * a visible reason — except in CI (CI=true with MODELS_DIR set), where a missing optional model fails.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(REPO_ROOT, 'tests', 'fixtures');

/** Near-duplicate photo sets (tests/fixtures/README.md gives each one's groups and licence). */
export const CALTECH = path.join(FIXTURES, 'photos', 'caltech-resize');
export const IMAGEHASH = path.join(FIXTURES, 'photos', 'imagehash');
export const IMAGEDEDUP = path.join(FIXTURES, 'photos', 'imagededup');
/** 40 frames of a fixed camera over a conveyor (ground_truth.json: runs of one potato). */
export const POTATOES = path.join(FIXTURES, 'stream', 'potatoes');

/** The Fashion-MNIST test split the repository ships (t10k-*.gz). */
export const FASHION_MNIST_DIR = path.join(REPO_ROOT, 'data', 'fashion-mnist');
export const FASHION_MNIST_TEST_IMAGES = path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz');
export const FASHION_MNIST_TEST_LABELS = path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz');

/** The project's models (the Fashion-MNIST CNN and the default photo embedder). */
export const MODELS_DIR = path.join(REPO_ROOT, 'models');

export interface OptionalModels {
  /** The folder holding every requested file, when there is one. */
  dir?: string;
  /** Why the tests that need them are skipped, when there is none. */
  skipReason?: string;
}

/**
 * The folder (MODELS_DIR) holding `files` of an optional model, e.g. MobileNetV2's ONNX file and its labels.
 * Absent: a skip reason outside CI; in CI with MODELS_DIR set (the full pass of .ci/run) it throws, so a
 * missing model cannot pass silently there.
 */
export function optionalModelsDir(...files: string[]): OptionalModels {
  const dir = process.env.MODELS_DIR;
  if (dir && files.every((file) => existsSync(path.join(dir, file)))) return { dir: path.resolve(dir) };
  const reason =
    `optional model file(s) ${files.join(', ')} not in ${dir ? `MODELS_DIR=${dir}` : 'MODELS_DIR (unset)'}; ` +
    'set MODELS_DIR to a folder holding them to run this test (models/README.md says how to obtain them)';
  if (process.env.CI === 'true' && dir) throw new Error(reason);
  return { skipReason: reason };
}

/**
 * For use inside a test: the folder holding the optional model `files`, or the test is skipped (its
 * context's `skip`) with the reason shown by the reporter. Fails in CI as `optionalModelsDir` does.
 */
export function optionalModelsOrSkip(skip: (note: string) => never, ...files: string[]): string {
  const { dir, skipReason } = optionalModelsDir(...files);
  return dir ?? skip(skipReason!);
}
