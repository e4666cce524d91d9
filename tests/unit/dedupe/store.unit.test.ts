import { describe, expect, it } from 'vitest';
import { InMemoryKeyedStore, createUniqueStore, type Feature } from '../../../src/dedupe/index.js';
import type { GrayZoneCheck } from '../../../src/dedupe/store.js';
import { ExactVectorIndex, HnswVectorIndex, TieredVectorIndex } from '../../../src/dedupe/vector-index.js';

const emb = (...values: number[]): Feature => ({ kind: 'embedding', vector: Float32Array.from(values) });

describe('unique store', () => {
  it('keeps the first frame, then keeps only frames farther than the threshold from every unique', () => {
    const store = createUniqueStore({ method: 'cnn', metric: 'cosine', threshold: 0.1, approximateAbove: 0 });
    expect(store.decide(emb(1, 0))).toEqual({ duplicate: false, unique: 0, nearest: undefined });
    const second = store.decide(emb(0, 1));
    expect(second).toMatchObject({ duplicate: false, unique: 1, nearest: { index: 0 } });
    const dup = store.decide(emb(0.99, 0.05));
    expect(dup.duplicate).toBe(true);
    expect(dup).toMatchObject({ unique: 0 });
    // Nearest unique wins, not the first one within the threshold.
    const dup2 = store.decide(emb(0.1, 1));
    expect(dup2).toMatchObject({ duplicate: true, unique: 1 });
    expect(store.size).toBe(2);
  });

  it('with the layout rule, a frame joins the unique it is closer to on the common scale', () => {
    // Embeddings and layouts as unit 2-d vectors at chosen angles: cosine distance = 1 − cos(angle).
    const unit = (deg: number) =>
      Float32Array.from([Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)]);
    const photo = (e: number, l: number): Feature => ({
      kind: 'embedding',
      vector: unit(e),
      layout: unit(l),
    });
    const store = createUniqueStore({ method: 'cnn', metric: 'cosine', threshold: 0.4, approximateAbove: 0 });
    expect(store.decide(photo(0, 0))).toMatchObject({ duplicate: false, unique: 0 });
    expect(store.decide(photo(90, 90))).toMatchObject({ duplicate: false, unique: 1 });
    // Embedding: 0.287 from unique 0, 0.299 from unique 1 (the embedding alone picks unique 0). Layout:
    // 0.004 from unique 1 (0.016 on the threshold's scale), far from unique 0: the layout match is closer.
    const both = store.decide(photo(45 - 0.5, 85));
    expect(both).toMatchObject({ duplicate: true, unique: 1 });
    expect(both.duplicate && both.distance).toBeCloseTo(((1 - Math.cos((5 * Math.PI) / 180)) / 0.1) * 0.4, 6);
    // Only the embedding matches: it decides.
    expect(store.decide(photo(10, 45))).toMatchObject({ duplicate: true, unique: 0 });
    // Only the layout matches (embedding 1.0 away from both): the layout decides.
    expect(store.decide(photo(225, 2))).toMatchObject({ duplicate: true, unique: 0 });
    expect(store.size).toBe(2);
  });

  it('a distance exactly at the threshold is a duplicate; just above it is a new unique', () => {
    // Thumbnails of 4 pixels: MSE of (0.5, 0, 0, 0) vs zeros = 0.0625 exactly.
    const thumb = (...v: number[]): Feature => ({ kind: 'thumbnail', pixels: Float32Array.from(v) });
    const at = createUniqueStore({ method: 'mse', metric: 'cosine', threshold: 0.0625, approximateAbove: 0 });
    at.decide(thumb(0, 0, 0, 0));
    expect(at.decide(thumb(0.5, 0, 0, 0))).toEqual({ duplicate: true, unique: 0, distance: 0.0625 });
    const below = createUniqueStore({
      method: 'mse',
      metric: 'cosine',
      threshold: 0.0624,
      approximateAbove: 0,
    });
    below.decide(thumb(0, 0, 0, 0));
    expect(below.decide(thumb(0.5, 0, 0, 0)).duplicate).toBe(false);

    const hashes = createUniqueStore({
      method: 'phash',
      metric: 'cosine',
      threshold: 3,
      approximateAbove: 0,
    });
    hashes.decide({ kind: 'hash', hash: 0n });
    expect(hashes.decide({ kind: 'hash', hash: 0b111n })).toEqual({
      duplicate: true,
      unique: 0,
      distance: 3,
    });
    expect(hashes.decide({ kind: 'hash', hash: 0b1111n })).toMatchObject({ duplicate: false, unique: 1 });
  });

  it('rmse compares raw features; l2 compares normalised ones', () => {
    const rmse = createUniqueStore({ method: 'cnn', metric: 'rmse', threshold: 0.5, approximateAbove: 0 });
    rmse.decide(emb(1, 1));
    // Same direction, twice the length: cosine 0, but rmse = 1.
    expect(rmse.decide(emb(2, 2))).toMatchObject({ duplicate: false });
    const l2 = createUniqueStore({ method: 'cnn', metric: 'l2', threshold: 0.01, approximateAbove: 0 });
    l2.decide(emb(1, 1));
    expect(l2.decide(emb(2, 2))).toMatchObject({ duplicate: true });
  });

  it('rejects a feature of the wrong kind for the method', () => {
    const store = createUniqueStore({ method: 'phash', metric: 'cosine', threshold: 3, approximateAbove: 0 });
    expect(() => store.decide(emb(1))).toThrow(/phash needs a hash feature/);
  });

  it('memory stays flat over 50k frames of few uniques (capacity, not timing)', () => {
    const store = createUniqueStore({
      method: 'cnn',
      metric: 'cosine',
      threshold: 0.05,
      approximateAbove: 0,
    });
    const bases = Array.from({ length: 5 }, (_, k) => {
      const v = new Float32Array(64);
      v[k] = 1;
      return v;
    });
    let uniques = 0;
    for (let i = 0; i < 50_000; i++) {
      const v = Float32Array.from(bases[i % 5]!, (x, j) => x + ((i * 7 + j) % 13) * 1e-4);
      if (!store.decide({ kind: 'embedding', vector: v }).duplicate) uniques++;
    }
    expect(uniques).toBe(5);
    expect(store.size).toBe(5);
    expect(store.capacity).toBeLessThanOrEqual(16);
  });

  it('streams never compare with each other', () => {
    const keyed = new InMemoryKeyedStore({
      method: 'cnn',
      metric: 'cosine',
      threshold: 0.1,
      approximateAbove: 0,
    });
    expect(keyed.decide('cam-a', emb(1, 0)).duplicate).toBe(false);
    expect(keyed.decide('cam-b', emb(1, 0)).duplicate).toBe(false);
    expect(keyed.decide('cam-a', emb(1, 0)).duplicate).toBe(true);
    expect(keyed.streams().sort()).toEqual(['cam-a', 'cam-b']);
    expect(keyed.size('cam-a')).toBe(1);
    expect(keyed.size('cam-b')).toBe(1);
  });
});

describe('vector indexes', () => {
  it('the exact index grows by doubling and finds the true nearest', () => {
    const index = new ExactVectorIndex(3, 'cosine', 2);
    index.add(Float32Array.of(1, 0, 0));
    index.add(Float32Array.of(0, 1, 0));
    expect(index.capacity).toBe(2);
    index.add(Float32Array.of(0, 0, 1));
    expect(index.capacity).toBe(4);
    const hit = index.nearest(Float32Array.of(0.1, 0.2, 3))!;
    expect(hit.index).toBe(2);
    expect(hit.distance).toBeCloseTo(1 - 3 / Math.sqrt(0.01 + 0.04 + 9), 6);
  });

  it('switches to HNSW above the configured size and keeps answering the same way', () => {
    const dim = 16;
    const tiered = new TieredVectorIndex(dim, 'cosine', 50);
    const exact = new ExactVectorIndex(dim, 'cosine');
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const vectors = Array.from({ length: 200 }, () => Float32Array.from({ length: dim }, rand));
    for (const v of vectors) {
      tiered.add(v);
      exact.add(v);
    }
    expect(tiered.kind).toBe('hnsw');
    expect(tiered.size).toBe(200);
    let agree = 0;
    for (let q = 0; q < 50; q++) {
      const query = Float32Array.from({ length: dim }, rand);
      const a = tiered.nearest(query)!;
      const b = exact.nearest(query)!;
      if (a.index === b.index) {
        agree++;
        expect(a.distance).toBeCloseTo(b.distance, 4);
      }
    }
    expect(agree).toBeGreaterThanOrEqual(45);
  });

  it('offers a frame the rule would keep to the gray-zone check: nearest first, within upper, at most maxChecks', () => {
    // Six dimensions: the frame lies along axis 0, unique i along cos(a)·axis0 + sin(a)·axis i, so the
    // frame is 1 − cos(a) from it and the uniques are far from each other; layouts are far from all.
    const along = (axis: number, deg = 90): Float32Array => {
      const v = new Float32Array(6);
      v[0] = Math.cos((deg * Math.PI) / 180);
      v[axis] = v[axis]! + Math.sin((deg * Math.PI) / 180);
      return v;
    };
    const photo = (vector: Float32Array, layoutAxis: number): Feature => ({
      kind: 'embedding',
      vector,
      layout: along(layoutAxis),
    });
    // Uniques 0–3 at 100° (1.17), 75° (0.74), 60° (0.50), 70° (0.66) from the frame's axis: the last three
    // in the gray zone (0.4, 0.8], the first beyond it.
    const storeWithUniques = () => {
      const store = createUniqueStore({
        method: 'cnn',
        metric: 'cosine',
        threshold: 0.4,
        approximateAbove: 0,
      });
      [100, 75, 60, 70].forEach((deg, i) => store.decide(photo(along(i + 1, deg), i + 1)));
      return store;
    };
    const frame = () => photo(along(0, 0), 5);
    const offered: number[] = [];
    const check = (copyOf?: number, maxChecks = 2, upper = 0.8): GrayZoneCheck => ({
      upper,
      maxChecks,
      verify: (unique) => {
        offered.push(unique);
        return unique === copyOf ? { inliers: 40, ncc: 0.95 } : undefined;
      },
    });
    // No copy among the two nearest: both offered, nearest first; the frame is a new unique.
    expect(storeWithUniques().decide(frame(), check())).toMatchObject({ duplicate: false, unique: 4 });
    expect(offered).toEqual([2, 3]);
    // A copy of the second nearest: it joins that unique, with the embedding distance and the evidence.
    offered.length = 0;
    const joined = storeWithUniques().decide(frame(), check(3));
    expect(joined).toMatchObject({ duplicate: true, unique: 3, keypoints: { inliers: 40, ncc: 0.95 } });
    expect(joined.duplicate && joined.distance).toBeCloseTo(1 - Math.cos((70 * Math.PI) / 180), 6);
    expect(offered).toEqual([2, 3]);
    // A copy of the third nearest is not found with two checks, and is with three.
    offered.length = 0;
    expect(storeWithUniques().decide(frame(), check(1))).toMatchObject({ duplicate: false });
    expect(storeWithUniques().decide(frame(), check(1, 3))).toMatchObject({ duplicate: true, unique: 1 });
    expect(offered).toEqual([2, 3, 2, 3, 1]);
    // Beyond `upper` nothing is offered, however many checks are allowed.
    offered.length = 0;
    expect(storeWithUniques().decide(frame(), check(2, 8, 0.45))).toMatchObject({ duplicate: false });
    expect(offered).toEqual([]);
    // A duplicate by the rule itself (30° from unique 2: 0.13) never reaches the check.
    expect(storeWithUniques().decide(photo(along(3, 30), 5), check(3))).toMatchObject({
      duplicate: true,
      unique: 2,
    });
    expect(offered).toEqual([]);
  });

  it('a decision after grayZone of the same feature sees a threshold changed in between, and a kept frame', () => {
    const unit = (deg: number) =>
      Float32Array.from([Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)]);
    const photo = (deg: number, layoutDeg: number): Feature => ({
      kind: 'embedding',
      vector: unit(deg),
      layout: unit(layoutDeg),
    });
    const store = createUniqueStore({ method: 'cnn', metric: 'cosine', threshold: 0.4, approximateAbove: 0 });
    store.decide(photo(0, 0));
    // 60° from the unique (0.5): in the gray zone at 0.4 ...
    const frame = photo(60, 120);
    expect(store.grayZone(frame, { upper: 0.8, maxChecks: 2 }).map((h) => h.index)).toEqual([0]);
    // ... and a duplicate by the rule once the threshold is 0.55.
    store.threshold = 0.55;
    expect(store.decide(frame)).toMatchObject({ duplicate: true, unique: 0 });
    // Once a frame is kept, the next look at the same feature finds it kept (a match: no gray zone).
    store.threshold = 0.4;
    const other = photo(170, 60);
    expect(store.grayZone(other, { upper: 2, maxChecks: 2 }).map((h) => h.index)).toEqual([0]);
    expect(store.decide(other)).toMatchObject({ duplicate: false, unique: 1 });
    expect(store.grayZone(other, { upper: 2, maxChecks: 2 })).toEqual([]);
  });

  it('never consults the check without a layout (28×28 frames) or with another metric than cosine', () => {
    const offered: number[] = [];
    const check: GrayZoneCheck = {
      upper: 2,
      maxChecks: 8,
      verify: (unique) => {
        offered.push(unique);
        return { inliers: 40, ncc: 0.95 };
      },
    };
    const cosine = createUniqueStore({
      method: 'cnn',
      metric: 'cosine',
      threshold: 0.1,
      approximateAbove: 0,
    });
    cosine.decide(emb(1, 0));
    expect(cosine.decide(emb(0, 1), check)).toMatchObject({ duplicate: false, unique: 1 });
    const l2 = createUniqueStore({ method: 'cnn', metric: 'l2', threshold: 0.1, approximateAbove: 0 });
    const layout = Float32Array.from([1, 0]);
    l2.decide({ kind: 'embedding', vector: Float32Array.from([1, 0]), layout });
    expect(
      l2.decide(
        { kind: 'embedding', vector: Float32Array.from([0, 1]), layout: Float32Array.from([0, 1]) },
        check,
      ),
    ).toMatchObject({
      duplicate: false,
    });
    expect(offered).toEqual([]);
  });

  it('nearestK lists the k nearest, nearest first, in the exact and the HNSW index alike', () => {
    const exact = new ExactVectorIndex(2, 'cosine');
    const hnsw = new HnswVectorIndex(2, 'cosine', 16);
    const degs = [50, 10, 80, 30, 170, 20];
    for (const deg of degs) {
      const v = Float32Array.from([Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)]);
      exact.add(v);
      hnsw.add(v);
    }
    const query = Float32Array.from([1, 0]);
    // Angles from 0°: 10 (1), 20 (5), 30 (3), 50 (0).
    expect(exact.nearestK(query, 4).map((h) => h.index)).toEqual([1, 5, 3, 0]);
    expect(hnsw.nearestK(query, 4).map((h) => h.index)).toEqual([1, 5, 3, 0]);
    expect(exact.nearestK(query, 4)[0]!.distance).toBeCloseTo(1 - Math.cos((10 * Math.PI) / 180), 6);
    expect(hnsw.nearestK(query, 4)[0]!.distance).toBeCloseTo(1 - Math.cos((10 * Math.PI) / 180), 5);
    expect(exact.nearestK(query, 10)).toHaveLength(6);
    expect(exact.nearest(query)).toEqual(exact.nearestK(query, 1)[0]);
    expect(new ExactVectorIndex(2, 'cosine').nearestK(query, 3)).toEqual([]);
  });
});
