/** Real Fashion-MNIST test frames for the results-stage tests, read from the installed IDX files. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export const FASHION_MNIST_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

export interface FashionMnistTest {
  count: number;
  width: number;
  height: number;
  /** Frame i's pixels (a view into one buffer, like a frame-ring slot). */
  image(i: number): Uint8Array;
  labels: Uint8Array;
}

export function readFashionMnistTest(limit: number): FashionMnistTest {
  const images = gunzipSync(readFileSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')));
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049) {
    throw new Error(`${FASHION_MNIST_DIR}: not Fashion-MNIST IDX files (bad magic)`);
  }
  const count = Math.min(limit, images.readUInt32BE(4));
  const height = images.readUInt32BE(8);
  const width = images.readUInt32BE(12);
  const size = width * height;
  return {
    count,
    width,
    height,
    image: (i) => new Uint8Array(images.buffer, images.byteOffset + 16 + i * size, size),
    labels: new Uint8Array(labels.buffer, labels.byteOffset + 8, count),
  };
}
