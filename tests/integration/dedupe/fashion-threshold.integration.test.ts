/**
 * The default cnn threshold on 28×28 gray streams, where frames are compared by the Fashion-MNIST
 * classifier's embedding, is the one its calibration picks (docs/dedupe.md "The Fashion-MNIST threshold"):
 * the shipped model on the first 2,000 real test images, each followed by one seeded altered copy, replayed
 * through the unique store and scored pairwise. The pick is the highest F1 with precision >= 0.99; recall
 * only grows with the threshold, so that is the largest swept threshold whose precision is >= 0.99. A new
 * model (a new embedding) must be re-calibrated, or this fails.
 */
import { describe, expect, it } from 'vitest';
import { FASHION_SWEEP, fashionCalibration } from '../../../bench/fashion-threshold.js';
import { defaultThreshold } from '../../../src/dedupe/methods.js';
import { FASHION_MNIST_DIR } from '../../test-data.js';

describe('Fashion-MNIST dedupe threshold', () => {
  it('the default keeps pairwise precision >= 0.99 and the next swept threshold does not', async () => {
    const threshold = defaultThreshold('cnn', 'cosine', true);
    const index = FASHION_SWEEP.indexOf(threshold);
    expect(index, `the sweep includes the default ${threshold}`).toBeGreaterThanOrEqual(0);
    const next = FASHION_SWEEP[index + 1]!;
    const { rows } = await fashionCalibration({
      dataDir: FASHION_MNIST_DIR,
      images: 2000,
      thresholds: [threshold, next],
    });
    const [atDefault, above] = rows;
    expect(atDefault!.precision).toBeGreaterThanOrEqual(0.99);
    expect(atDefault!.recall).toBeGreaterThan(0);
    expect(above!.recall).toBeGreaterThanOrEqual(atDefault!.recall);
    expect(above!.precision).toBeLessThan(0.99);
  }, 300_000);
});
