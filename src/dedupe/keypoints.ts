/**
 * The keypoint check: the second opinion on photos the embedding leaves in doubt. A frame the cnn rule
 * would keep is compared, nearest first, with the few uniques whose embedding distance lies in the gray
 * zone (threshold, upper] by local features — ORB keypoints, descriptors matched with Lowe's ratio test,
 * one RANSAC homography, then the normalised cross-correlation of the overlap once the frame is warped
 * onto the unique — and joins the first that is a geometric and photometric copy of it. This is what
 * finds heavy crops (thin strips, zoomed-in parts), which no global embedding does (docs/dedupe.md, "The
 * keypoint check").
 *
 * The work is native OpenCV (`native/keypoints`, built at install against the system's OpenCV). Where it is
 * not built, dedupe runs on the embedding rule alone and says so once.
 */
import { createRequire } from 'node:module';
import { UserError } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { KeptImage } from './save.js';
import type { Feature, Method } from './methods.js';
import type { Metric } from './distance.js';
import type { GrayZoneCheck, KeyedUniqueStore, KeypointMatch } from './store.js';

const log = loggerFor('dedupe');

/** The check's settings (measured on the shared near-duplicate sets: docs/dedupe.md). */
export interface KeypointSettings {
  /** Features are taken on a gray copy scaled to about size² pixels, whatever its aspect. */
  size: number;
  /** ORB keypoints per photo. */
  features: number;
  /** FAST corner threshold of ORB's detector (OpenCV's default is 20; 40 costs a third less, same quality). */
  fastThreshold: number;
  /** Lowe's ratio test: a match counts when its best distance is under ratio × the second best. */
  ratio: number;
  /** RANSAC reprojection error, pixels. */
  reprojection: number;
  /** Matches that must agree with the homography. */
  minInliers: number;
  /** Normalised cross-correlation the overlap must reach (a re-shot of the same scene stays below). */
  minNcc: number;
  /** Upper end of the gray zone, cosine distance: uniques farther than this are never checked. */
  upper: number;
  /** Gray-zone uniques checked per frame, nearest first. */
  maxChecks: number;
}

export const KEYPOINT_SETTINGS: Readonly<KeypointSettings> = {
  size: 480,
  features: 1000,
  fastThreshold: 40,
  ratio: 0.8,
  reprojection: 5,
  minInliers: 12,
  minNcc: 0.82,
  upper: 0.8,
  maxChecks: 2,
};

/** What features are taken from: an image file's bytes, or raw 8-bit pixels. */
export type KeypointImage =
  | { encoded: Uint8Array }
  | { raw: Uint8Array; width: number; height: number; channels: number };

/** A frame as the pipeline holds it (raw pixels, or JPEG / PNG bytes), as the check reads it. */
export function keypointImageOf(image: KeptImage): KeypointImage {
  return image.encoding === 0
    ? { raw: image.data, width: image.width, height: image.height, channels: image.channels }
    : { encoded: image.data };
}

/** One photo's features, held by the addon (its gray copy, keypoints and descriptors). */
export interface Keypoints {
  readonly count: number;
  readonly width: number;
  readonly height: number;
}

interface DescribeOptions {
  encoded: boolean;
  width?: number;
  height?: number;
  channels?: number;
  size: number;
  features: number;
  /** Default 20, OpenCV's. */
  fastThreshold?: number;
}
interface CompareOptions {
  ratio: number;
  reprojection: number;
  minInliers: number;
}

/**
 * The native part. Each call has a synchronous form and an asynchronous one that runs on a libuv pool
 * thread (the caller keeps `pixels` unchanged until it settles).
 */
interface Addon {
  describe(pixels: Uint8Array, options: DescribeOptions): Keypoints | null;
  describeAsync(pixels: Uint8Array, options: DescribeOptions): Promise<Keypoints | null>;
  compare(a: Keypoints, b: Keypoints, options: CompareOptions): KeypointMatch;
  compareAsync(a: Keypoints, b: Keypoints, options: CompareOptions): Promise<KeypointMatch>;
  opencvVersion: string;
}

const ADDON = '../../native/keypoints/build/Release/keypoints.node';
let addon: Addon | Error | undefined;

/** The native addon, or the reason it cannot be used (loaded once per process). */
export function keypointAddon(): Addon | Error {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(ADDON) as Addon;
    } catch (err) {
      addon = new Error(
        `the keypoint check is not built (${(err as Error).message.split('\n')[0]}): install OpenCV's development files ` +
          '(apt-get install libopencv-dev) and run npm rebuild framesift, or npm run build:native in a clone',
      );
    }
  }
  return addon;
}

/** `auto`: use the check where it is built; `on`: fail without it; `off`: the embedding rule alone. */
export type KeypointsWhen = 'auto' | 'on' | 'off';

const checksTotal = () =>
  metric(
    'framesift_dedupe_keypoint_checks_total',
    () =>
      new prom.Counter({
        name: 'framesift_dedupe_keypoint_checks_total',
        help: 'Gray-zone pairs compared by keypoints, by result (copy, distinct, unreadable: a frame or unique whose image gave no features).',
        labelNames: ['result'],
        registers: [metricsRegistry],
      }),
  );

/** What the check did in one session, for the reports. */
export interface KeypointCounts {
  /** Pairs compared. */
  checks: number;
  /** Frames the check made duplicates (the embedding rule alone would have kept them). */
  joined: number;
  /** Pairs where the frame's or the unique's image gave no features (not decodable): counted distinct. */
  unreadable: number;
}

/**
 * The check for one session: features are computed lazily (only photos that reach the gray zone pay for
 * them) and the uniques' features are cached, the most recently used first, `cacheSize` of them.
 */
export class KeypointCheck {
  readonly counts: KeypointCounts = { checks: 0, joined: 0, unreadable: 0 };
  private readonly cache = new Map<string, Keypoints | null>();

  constructor(
    private readonly native: Addon,
    readonly settings: Readonly<KeypointSettings> = KEYPOINT_SETTINGS,
    private readonly cacheSize = 128,
  ) {}

  /**
   * A session's check, or undefined when its rule never consults one (the check is part of cnn with
   * cosine), when `when` is off, or (for auto) when the addon is not built; `on` without the addon throws
   * its reason.
   */
  static create(
    when: KeypointsWhen,
    rule: { method: Method; metric: Metric },
    settings?: Readonly<KeypointSettings>,
  ): KeypointCheck | undefined {
    if (when === 'off' || rule.method !== 'cnn' || rule.metric !== 'cosine') return undefined;
    const native = keypointAddon();
    if (native instanceof Error) {
      if (when === 'on') throw new UserError(`--keypoints on: ${native.message}`);
      log.warn('dedupe runs on the embedding rule alone', { reason: native.message });
      return undefined;
    }
    return new KeypointCheck(native, settings);
  }

  private describeArguments(image: KeypointImage): [Uint8Array, DescribeOptions] {
    const { size, features, fastThreshold } = this.settings;
    return 'encoded' in image
      ? [image.encoded, { encoded: true, size, features, fastThreshold }]
      : [
          image.raw,
          {
            encoded: false,
            width: image.width,
            height: image.height,
            channels: image.channels,
            size,
            features,
            fastThreshold,
          },
        ];
  }

  /** Files `features` as the most recently used (a Map iterates in insertion order: the first is oldest). */
  private remember(key: string, features: Keypoints | null): void {
    this.cache.delete(key);
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, features);
  }

  /**
   * The check for one frame of `stream`, as the store consults it: `frame` gives the frame's image,
   * `unique(n)` the image of the stream's unique n. `prepare` does the work for the uniques the store will
   * offer (`UniqueStore.grayZone`) on pool threads, so that `verify` then only reads its verdicts; without
   * it, `verify` does the work on the calling thread. `kept(n)` files the frame's features (when computed)
   * under its unique number n, so that the next frames find them cached.
   */
  forFrame(
    stream: string,
    frame: () => KeypointImage | undefined,
    unique: (n: number) => KeypointImage | undefined,
  ): FrameCheck {
    const { upper, maxChecks, ratio, reprojection, minInliers, minNcc } = this.settings;
    const keyOf = (n: number) => `${stream}\n${n}`;
    let own: Keypoints | null | undefined;
    const verdicts = new Map<number, KeypointMatch | undefined>();
    const judge = (n: number, a: Keypoints | null, b: Keypoints | null, match?: KeypointMatch) => {
      this.counts.checks++;
      let verdict: KeypointMatch | undefined;
      if (!a || !b || !match) {
        this.counts.unreadable++;
        checksTotal().inc({ result: 'unreadable' });
      } else {
        verdict = match.inliers >= minInliers && match.ncc >= minNcc ? match : undefined;
        checksTotal().inc({ result: verdict ? 'copy' : 'distinct' });
      }
      verdicts.set(n, verdict);
      return verdict;
    };
    const options = { ratio, reprojection, minInliers };
    const describe = (image: KeypointImage | undefined) =>
      image ? this.native.describe(...this.describeArguments(image)) : null;
    const describeAsync = async (image: KeypointImage | undefined) =>
      image ? this.native.describeAsync(...this.describeArguments(image)) : null;
    const frameCheck: FrameCheck = {
      upper,
      maxChecks,
      verify: (n) => {
        let verdict: KeypointMatch | undefined;
        if (verdicts.has(n)) verdict = verdicts.get(n);
        else {
          own ??= describe(frame());
          const key = keyOf(n);
          // null is cached too: an image that gave no features is not decoded again.
          const other = this.cache.has(key) ? (this.cache.get(key) as Keypoints | null) : describe(unique(n));
          this.remember(key, other);
          verdict = judge(n, own, other, own && other ? this.native.compare(own, other, options) : undefined);
        }
        if (verdict) this.counts.joined++;
        return verdict;
      },
      prepare: async (uniques) => {
        for (const n of uniques) {
          if (verdicts.has(n)) continue;
          own ??= await describeAsync(frame());
          const key = keyOf(n);
          const other = this.cache.has(key)
            ? (this.cache.get(key) as Keypoints | null)
            : await describeAsync(unique(n));
          this.remember(key, other);
          const match = own && other ? await this.native.compareAsync(own, other, options) : undefined;
          // The store stops at the first copy: so does the work.
          if (judge(n, own, other, match)) break;
        }
      },
      prepareFor: (store, streamId, feature) => {
        const offered = store.grayZone(streamId, feature, frameCheck);
        return offered.length > 0 ? frameCheck.prepare(offered.map((hit) => hit.index)) : undefined;
      },
      kept: (n) => {
        if (own !== undefined) this.remember(keyOf(n), own);
      },
    };
    return frameCheck;
  }
}

/** One frame's keypoint check (KeypointCheck.forFrame). */
export interface FrameCheck extends GrayZoneCheck {
  /** Does the work for `uniques` (in the order the store offers them) off the main thread. */
  prepare(uniques: number[]): Promise<void>;
  /**
   * `prepare` for the uniques `store` would offer this frame (`UniqueStore.grayZone`); undefined when it
   * offers none, so that a caller can go on synchronously.
   */
  prepareFor(store: KeyedUniqueStore, streamId: string, feature: Feature): Promise<void> | undefined;
  /** The frame became unique `n`: its features are filed under that number. */
  kept(n: number): void;
}
