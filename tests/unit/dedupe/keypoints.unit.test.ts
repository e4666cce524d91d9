/**
 * The keypoint check's native part on real photos (tests/helpers/heavy-crops.ts): features, the geometric and
 * photometric test, and the session cache. It needs the addon built at install against OpenCV
 * (scripts/build-native.mjs); CI installs OpenCV's development files, so a missing build fails here.
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYPOINT_SETTINGS, KeypointCheck, keypointAddon } from '../../../src/dedupe/index.js';
import { HEAVY_CROPS, writeHeavyCrops } from '../../helpers/heavy-crops.js';

let dir: string;
const bytes = (name: string) => readFile(path.join(dir, name));
beforeAll(async () => {
  dir = await writeHeavyCrops(await mkdtemp(path.join(tmpdir(), 'framesift-keypoints-')));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const addon = () => {
  const native = keypointAddon();
  if (native instanceof Error) throw native;
  return native;
};
/** The rule the keypoint check is part of. */
const PHOTO_RULE = { method: 'cnn', metric: 'cosine' } as const;
const { size, features, fastThreshold, ratio, reprojection, minInliers, minNcc } = KEYPOINT_SETTINGS;
const describeBytes = async (name: string) =>
  addon().describe(await bytes(name), { encoded: true, size, features, fastThreshold })!;
/** Raw 8-bit pixels of `channels` per pixel, at the shipped feature settings. */
const describeRaw = (pixels: Uint8Array, width: number, height: number, channels: number) =>
  addon().describe(pixels, { encoded: false, width, height, channels, size, features, fastThreshold });
const compare = (a: Parameters<ReturnType<typeof addon>['compare']>[0], b: typeof a) =>
  addon().compare(a, b, { ratio, reprojection, minInliers });

describe('keypoint check (native)', () => {
  it('is built against OpenCV', () => {
    expect(keypointAddon()).not.toBeInstanceOf(Error);
    expect(addon().opencvVersion).toMatch(/^4\./);
  });

  it('describes a photo on a gray copy of about size² pixels, whatever its aspect', async () => {
    const photo = await describeBytes(HEAVY_CROPS.original);
    const strip = await describeBytes(HEAVY_CROPS.strip);
    for (const f of [photo, strip]) {
      expect(f.width * f.height).toBeGreaterThan(0.98 * size * size);
      expect(f.width * f.height).toBeLessThan(1.02 * size * size);
      expect(f.count).toBeGreaterThan(features / 2);
      expect(f.count).toBeLessThanOrEqual(features);
    }
    // The 4.5:1 strip keeps its aspect.
    expect(strip.width / strip.height).toBeCloseTo(4.5, 1);
  });

  it('finds a strip and a zoomed part to be copies of their photo, and a re-shot of the same room not', async () => {
    const photo = await describeBytes(HEAVY_CROPS.original);
    for (const crop of [HEAVY_CROPS.strip, HEAVY_CROPS.zoom]) {
      const m = compare(await describeBytes(crop), photo);
      expect(m.inliers, crop).toBeGreaterThanOrEqual(minInliers);
      expect(m.ncc, crop).toBeGreaterThanOrEqual(minNcc);
    }
    // The other office photos were shot from the same spot: the geometry may agree, the pixels do not.
    for (const other of HEAVY_CROPS.others) {
      const m = compare(await describeBytes(other), photo);
      expect(m.inliers >= minInliers && m.ncc >= minNcc, other).toBe(false);
    }
  });

  it('finds no copy in a mirrored crop (a flip is the embedding rule’s business) and takes raw pixels too', async () => {
    const photo = await describeBytes(HEAVY_CROPS.original);
    const { data, info } = await sharp(await bytes(HEAVY_CROPS.strip))
      .flop()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const mirrored = describeRaw(data, info.width, info.height, info.channels)!;
    expect(mirrored.count).toBeGreaterThan(features / 2);
    const m = compare(mirrored, photo);
    expect(m.inliers >= minInliers && m.ncc >= minNcc).toBe(false);
    const raw = await sharp(await bytes(HEAVY_CROPS.strip))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const upright = describeRaw(raw.data, raw.info.width, raw.info.height, raw.info.channels)!;
    expect(compare(upright, photo).ncc).toBeGreaterThanOrEqual(minNcc);
  });

  it('answers null for bytes that are no image and names what is wrong with bad arguments', () => {
    expect(
      addon().describe(Buffer.from('not an image'), { encoded: true, size, features, fastThreshold }),
    ).toBeNull();
    expect(() => describeRaw(new Uint8Array(10), 4, 4, 3)).toThrow(
      /pixels: fewer bytes than width × height × channels/,
    );
    expect(() => describeRaw(new Uint8Array(48), 4, 4, 2)).toThrow(/channels: expected 1, 3 or 4/);
    expect(() => addon().describe(new Uint8Array(48), { encoded: true } as never)).toThrow(
      /size: expected a number/,
    );
    const photo = describeRaw(new Uint8Array(48).fill(7), 4, 4, 3)!;
    expect(() => compare({} as typeof photo, photo)).toThrow(
      /compare\(a: Keypoints, b: Keypoints, options\)/,
    );
  });

  it('a session check describes each unique once, counts what it did, and files a kept frame under its number', async () => {
    expect(KeypointCheck.create('off', PHOTO_RULE)).toBeUndefined();
    // Only cnn with cosine consults the check: other rules get none, even with `on`.
    expect(KeypointCheck.create('on', { method: 'cnn', metric: 'l2' })).toBeUndefined();
    expect(KeypointCheck.create('on', { method: 'phash', metric: 'cosine' })).toBeUndefined();
    const check = KeypointCheck.create('on', PHOTO_RULE)!;
    const images = new Map<string, Buffer>();
    for (const name of [HEAVY_CROPS.original, HEAVY_CROPS.strip, HEAVY_CROPS.zoom, ...HEAVY_CROPS.others])
      images.set(name, await bytes(name));
    const reads: number[] = [];
    const uniques: string[] = [HEAVY_CROPS.original];
    const frameCheck = (name: string) =>
      check.forFrame(
        'camera-1',
        () => ({ encoded: images.get(name)! }),
        (n) => {
          reads.push(n);
          return { encoded: images.get(uniques[n]!)! };
        },
      );
    expect(frameCheck(HEAVY_CROPS.strip).verify(0)).toMatchObject({ inliers: expect.any(Number) });
    expect(frameCheck(HEAVY_CROPS.zoom).verify(0)).toBeDefined();
    // A re-shot is no copy; it becomes unique 1 and its features are filed under that number.
    const other = frameCheck(HEAVY_CROPS.others[0]);
    expect(other.verify(0)).toBeUndefined();
    other.kept(1);
    uniques.push(HEAVY_CROPS.others[0]);
    expect(frameCheck(HEAVY_CROPS.others[1]).verify(1)).toBeUndefined();
    // Unique 0 was read once for three checks, unique 1 never (filed when kept).
    expect(reads).toEqual([0]);
    // An image that gives no features counts as unreadable, and its pair as distinct.
    const broken = check.forFrame(
      'camera-1',
      () => ({ encoded: Buffer.from('junk') }),
      () => undefined,
    );
    expect(broken.verify(0)).toBeUndefined();
    expect(check.counts).toEqual({ checks: 5, joined: 2, unreadable: 1 });
  });

  it("prepare does the work off the main thread, in the store's order, and stops at the first copy; verify then reads it", async () => {
    const check = KeypointCheck.create('on', PHOTO_RULE)!;
    const images = [HEAVY_CROPS.others[0], HEAVY_CROPS.original].map((name) => path.join(dir, name));
    const bytesOf = new Map<string, Buffer>();
    for (const file of [...images, path.join(dir, HEAVY_CROPS.strip)])
      bytesOf.set(file, await readFile(file));
    const uniqueReads: number[] = [];
    const strip = check.forFrame(
      'camera-2',
      () => ({ encoded: bytesOf.get(path.join(dir, HEAVY_CROPS.strip))! }),
      (n) => {
        uniqueReads.push(n);
        return { encoded: bytesOf.get(images[n]!)! };
      },
    );
    // The strip is no copy of unique 0 (another office photo) but is one of unique 1 (its original).
    await strip.prepare([0, 1]);
    expect(check.counts).toEqual({ checks: 2, joined: 0, unreadable: 0 });
    expect(uniqueReads).toEqual([0, 1]);
    // verify reads the prepared verdicts: no new comparison, no new read.
    expect(strip.verify(0)).toBeUndefined();
    expect(strip.verify(1)!.inliers).toBeGreaterThanOrEqual(minInliers);
    expect(check.counts).toEqual({ checks: 2, joined: 1, unreadable: 0 });
    expect(uniqueReads).toEqual([0, 1]);
    // Offered the original first, prepare stops there: the second unique is never read.
    const zoom = check.forFrame(
      'camera-3',
      () => ({ encoded: bytesOf.get(path.join(dir, HEAVY_CROPS.strip))! }),
      (n) => {
        uniqueReads.push(100 + n);
        return { encoded: bytesOf.get(images[1 - n]!)! };
      },
    );
    await zoom.prepare([0, 1]);
    expect(uniqueReads).toEqual([0, 1, 100]);
    expect(check.counts.checks).toBe(3);
  });
});
