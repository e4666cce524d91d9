/**
 * Fashion-MNIST: where it lives and how a split is loaded. 28×28 grayscale images, labels 0-9.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { PROJECT_ROOT } from '../common/paths.js';
import { readIdxFile, pairImagesAndLabels, type LabelledImages } from './idx.js';

export type FashionMnistSplit = 'test' | 'train';

/** Debian's dataset-fashion-mnist package installs the files here. */
export const SYSTEM_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** The project's copy: the test split ships in the repository; `npm run data` adds the train split. */
export const PROJECT_FASHION_MNIST_DIR = path.join(PROJECT_ROOT, 'data', 'fashion-mnist');

const log = loggerFor('fashion-mnist');

export { FASHION_MNIST_CLASSES } from '../common/fashion-mnist-classes.js';

const FILE_STEMS: Record<FashionMnistSplit, { images: string; labels: string }> = {
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
};

/** The file of `stem` in `dir`, gzipped or plain, or undefined. */
function find(dir: string, stem: string): string | undefined {
  for (const candidate of [`${stem}.gz`, stem]) {
    const file = path.join(dir, candidate);
    if (existsSync(file)) return file;
  }
  return undefined;
}

function holdsSplit(dir: string, split: FashionMnistSplit): boolean {
  return (
    find(dir, FILE_STEMS[split].images) !== undefined && find(dir, FILE_STEMS[split].labels) !== undefined
  );
}

/**
 * The folder a split is read from, the first of: `configured` (FASHION_MNIST_DIR), the project's
 * data/fashion-mnist (which ships the test split; `npm run data` adds the train split), Debian's
 * /usr/share/datasets/fashion-mnist. A configured folder without the split is passed over with a warning; no
 * folder holding it is a one-line UserError naming every place looked at.
 */
export function fashionMnistDir(
  configured?: string,
  split: FashionMnistSplit = 'test',
  systemDir: string = SYSTEM_FASHION_MNIST_DIR,
): string {
  const candidates: Array<[dir: string | undefined, what: string]> = [
    [configured, 'FASHION_MNIST_DIR'],
    [PROJECT_FASHION_MNIST_DIR, "the project's copy"],
    [systemDir, "Debian's dataset-fashion-mnist"],
  ];
  const places: string[] = [];
  for (const [dir, what] of candidates) {
    if (!dir) continue;
    if (holdsSplit(dir, split)) {
      if (configured && dir !== configured) {
        log.warn('FASHION_MNIST_DIR does not hold this split; using the next folder', {
          split,
          configured,
          dir,
        });
      }
      return dir;
    }
    places.push(`${dir} (${what})`);
  }
  const { images, labels } = FILE_STEMS[split];
  throw new UserError(
    `Fashion-MNIST ${split} split (${images}[.gz], ${labels}[.gz]) not found in ${places.join(', ')}: ` +
      `set FASHION_MNIST_DIR, install the Debian package dataset-fashion-mnist, or run "npm run data"`,
  );
}

/** The file of `stem` in `dir`, gzipped or plain. */
function locate(dir: string, stem: string): string {
  const file = find(dir, stem);
  if (file) return file;
  throw new UserError(
    `Fashion-MNIST file ${path.join(dir, stem)}(.gz) not found: set FASHION_MNIST_DIR, ` +
      `install the Debian package dataset-fashion-mnist, or run "npm run data"`,
  );
}

const cache = new Map<string, Promise<LabelledImages>>();

/** Loads a split from `dir` (validated, cached per folder and split: the test split is 7.8 MB, train 47 MB). */
export function loadFashionMnist(
  split: FashionMnistSplit,
  dir = fashionMnistDir(undefined, split),
): Promise<LabelledImages> {
  const key = `${path.resolve(dir)}\0${split}`;
  let loading = cache.get(key);
  if (!loading) {
    loading = (async () => {
      const imagesFile = locate(dir, FILE_STEMS[split].images);
      const labelsFile = locate(dir, FILE_STEMS[split].labels);
      const [images, labels] = await Promise.all([readIdxFile(imagesFile, 3), readIdxFile(labelsFile, 1)]);
      const set = pairImagesAndLabels(images, labels, imagesFile, labelsFile);
      const bad = set.labels.findIndex((label) => label > 9);
      if (bad >= 0) {
        throw new UserError(`${labelsFile}: label ${set.labels[bad]} at index ${bad}, expected 0-9`);
      }
      return set;
    })();
    cache.set(key, loading);
    // A failed load is not cached, so a fixed folder works on the next try.
    loading.catch(() => cache.delete(key));
  }
  return loading;
}
