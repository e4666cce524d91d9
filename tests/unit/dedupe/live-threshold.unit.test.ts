/**
 * The threshold is settable live: later decisions use the new value, earlier ones stand, new streams
 * start with it, and every change is recorded for the manifests. The store also remembers, bounded, which
 * duplicates each unique absorbed; the page's threshold slider maps the seed's scale onto each method's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InMemoryKeyedStore, StreamDeduper, thresholdSlider } from '../../../src/dedupe/index.js';
import { ABSORBED_IMAGES_PER_UNIQUE } from '../../../src/dedupe/stream-deduper.js';
import { DEFAULT_THRESHOLDS } from '../../../src/dedupe/methods.js';
import { type UniquesManifest } from '../../../src/dedupe/save.js';

const hash = (h: bigint) => ({ kind: 'hash' as const, hash: h });
const gray = { width: 2, height: 1, channels: 1, encoding: 0 as const, data: Uint8Array.of(0, 255) };

describe('live threshold', () => {
  it('later decisions of every stream use the new value (new streams too); earlier ones stand', () => {
    const store = new InMemoryKeyedStore({
      method: 'phash',
      metric: 'cosine',
      threshold: 2,
      approximateAbove: 0,
    });
    store.decide('a', hash(0n));
    expect(store.decide('a', hash(0b11n)).duplicate).toBe(true);
    store.threshold = 1;
    expect(store.decide('a', hash(0b110n)).duplicate).toBe(false); // distance 2 > 1: kept now
    expect(store.size('a')).toBe(2);
    expect(store.decide('b', hash(0n)).duplicate).toBe(false);
    expect(store.decide('b', hash(0b11n)).duplicate).toBe(false); // stream b was created after the change
    store.threshold = 64;
    expect(store.decide('b', hash(0xffn)).duplicate).toBe(true);
    expect(() => (store.threshold = -1)).toThrow(/threshold/);
  });

  it('the deduper records each change and saves it in the manifest with each unique’s nearest distance', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'framesift-live-threshold-'));
    try {
      const deduper = new StreamDeduper({
        method: 'phash',
        metric: 'cosine',
        threshold: 2,
        approximateAbove: 0,
        outDir: out,
        imageSaveQuality: 90,
        model: null,
      });
      deduper.accept({ streamId: 's', seq: 0, feature: hash(0n), image: gray });
      deduper.accept({ streamId: 's', seq: 1, feature: hash(0b11n), image: gray });
      deduper.setThreshold(1);
      deduper.setThreshold(1); // no change: not recorded twice
      deduper.accept({ streamId: 's', seq: 2, feature: hash(0b1100n), image: gray });
      expect(deduper.threshold).toBe(1);
      const status = deduper.status();
      expect(status.threshold).toBe(1);
      expect(status.thresholdChanges).toEqual([{ frames: 2, threshold: 1, at: expect.any(String) }]);
      expect(() => deduper.setThreshold(Number.NaN)).toThrow(/threshold/);
      const saved = await deduper.save('order-1');
      const manifest = JSON.parse(
        await readFile(path.join(saved.folder, 'manifest.json'), 'utf8'),
      ) as UniquesManifest;
      expect(manifest.threshold).toBe(1);
      expect(manifest.thresholdChanges).toEqual(status.thresholdChanges);
      expect(manifest.streams[0]!.uniques.map((u) => [u.seq, u.nearest])).toEqual([
        [0, undefined],
        [2, 2],
      ]);
      expect(manifest.streams[0]!.duplicates).toEqual([{ seq: 1, unique: 0, distance: 2 }]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('remembers which duplicates each unique absorbed, with images for the first few only', () => {
    const deduper = new StreamDeduper({
      method: 'phash',
      metric: 'cosine',
      threshold: 4,
      approximateAbove: 0,
      outDir: '/nonexistent',
      imageSaveQuality: 90,
      model: null,
    });
    const n = ABSORBED_IMAGES_PER_UNIQUE + 5;
    for (let seq = 0; seq <= n; seq++) {
      deduper.accept({ streamId: 's', seq, feature: hash(seq === 0 ? 0n : 1n), image: gray });
    }
    const detail = deduper.unique('s', 0, 8)!;
    expect(detail.duplicates).toBe(n);
    expect(detail.absorbed).toHaveLength(8);
    expect(detail.absorbed.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(detail.absorbed.filter((d) => d.image)).toHaveLength(ABSORBED_IMAGES_PER_UNIQUE);
    expect(deduper.imageOf('s', 1)).toBeDefined();
    expect(deduper.imageOf('s', n)).toBeUndefined(); // beyond the per-unique bound: seq and distance only
    expect(deduper.unique('s', 1)).toBeUndefined(); // not a unique
    expect(deduper.uniques()[0]).toMatchObject({ seq: 0, duplicates: n, keptAt: expect.any(Number) });
  });
});

describe('threshold slider', () => {
  const seed = { min: 0.15, max: 0.5, inc: 0.025, init: 0.325 };

  it('is the seed’s scale for cnn + rmse, and scaled by the ratio of the measured defaults otherwise', () => {
    expect(thresholdSlider('cnn', 'rmse', seed)).toEqual({
      min: 0.15,
      max: 0.5,
      step: 0.025,
      initial: 0.325,
    });
    const cosine = thresholdSlider('cnn', 'cosine', seed);
    const k = DEFAULT_THRESHOLDS.cnn.cosine / DEFAULT_THRESHOLDS.cnn.rmse;
    expect(cosine.min).toBeCloseTo(0.15 * k, 3);
    expect(cosine.step).toBeCloseTo(0.025 * k, 3);
    expect(cosine.max).toBeCloseTo(0.5 * k, 2);
    // start and maximum sit on the slider's grid, so the browser never snaps them
    for (const s of [
      cosine,
      thresholdSlider('mse', 'cosine', seed),
      thresholdSlider('change', 'cosine', seed),
    ]) {
      for (const x of [s.initial, s.max]) {
        const steps = (x - s.min) / s.step;
        expect(Math.abs(steps - Math.round(steps))).toBeLessThan(1e-6);
      }
    }
  });

  it('uses whole bits for phash, and widens the range to show a given threshold', () => {
    const phash = thresholdSlider('phash', 'cosine', seed);
    expect(Number.isInteger(phash.min) && Number.isInteger(phash.max) && Number.isInteger(phash.step)).toBe(
      true,
    );
    expect(phash.step).toBeGreaterThanOrEqual(1);
    expect(thresholdSlider('cnn', 'cosine', seed, 0.9)).toMatchObject({ initial: 0.9, max: 0.9 });
    expect(thresholdSlider('cnn', 'cosine', seed, 0.05)).toMatchObject({ initial: 0.05, min: 0.05 });
  });
});
