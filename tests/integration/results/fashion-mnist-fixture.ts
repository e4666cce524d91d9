/** Real Fashion-MNIST test frames for the results-stage tests, through the project's own IDX reader. */
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';

export interface FashionMnistTest {
  count: number;
  width: number;
  height: number;
  /** Frame i's pixels (a view into one buffer, like a frame-ring slot). */
  image(i: number): Uint8Array;
  labels: Uint8Array;
}

export async function readFashionMnistTest(limit: number): Promise<FashionMnistTest> {
  const test = await loadFashionMnist('test');
  const count = Math.min(limit, test.count);
  const size = test.width * test.height;
  return {
    count,
    width: test.width,
    height: test.height,
    image: (i) => test.images.subarray(i * size, (i + 1) * size),
    labels: test.labels.subarray(0, count),
  };
}
