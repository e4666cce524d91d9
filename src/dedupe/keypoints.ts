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
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { KeptImage } from './save.js';
import type { GrayZoneCheck, KeypointMatch } from './store.js';

const log = loggerFor('dedupe');

/** The check's settings (measured on the shared near-duplicate sets: docs/dedupe.md). */
export interface KeypointSettings {
  /** Features are taken on a gray copy scaled to about size² pixels, whatever its aspect. */
  size: number;
  /** ORB keypoints per photo. */
  features: number;
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
  size: 560,
  features: 1000,
  ratio: 0.8,
  reprojection: 5,
  minInliers: 12,
  minNcc: 0.84,
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

interface Addon {
  describe(
    pixels: Uint8Array,
    options: {
      encoded: boolean;
      width?: number;
      height?: number;
      channels?: number;
      size: number;
      features: number;
    },
  ): Keypoints | null;
  compare(
    a: Keypoints,
    b: Keypoints,
    options: { ratio: number; reprojection: number; minInliers: number },
  ): KeypointMatch;
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
   * A session's check, or undefined when `when` is off or (for auto) the addon is not built; `on` without
   * the addon throws its reason.
   */
  static create(when: KeypointsWhen, settings?: Readonly<KeypointSettings>): KeypointCheck | undefined {
    if (when === 'off') return undefined;
    const native = keypointAddon();
    if (native instanceof Error) {
      if (when === 'on') throw native;
      log.warn('dedupe runs on the embedding rule alone', { reason: native.message });
      return undefined;
    }
    return new KeypointCheck(native, settings);
  }

  private describe(image: KeypointImage | undefined): Keypoints | null {
    if (!image) return null;
    const { size, features } = this.settings;
    return 'encoded' in image
      ? this.native.describe(image.encoded, { encoded: true, size, features })
      : this.native.describe(image.raw, { encoded: false, ...image, size, features });
  }

  private uniqueFeatures(stream: string, unique: number, image: () => KeypointImage | undefined) {
    const key = `${stream}\n${unique}`;
    // null is cached too: an image that gave no features is not decoded again.
    const found = this.cache.has(key) ? (this.cache.get(key) as Keypoints | null) : this.describe(image());
    this.remember(key, found);
    return found;
  }

  /** Files `features` as the most recently used (a Map iterates in insertion order: the first is oldest). */
  private remember(key: string, features: Keypoints | null): void {
    this.cache.delete(key);
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, features);
  }

  /**
   * The store's check for one frame of `stream`: `frame` gives the frame's image, `unique(n)` the image of
   * the stream's unique n. `kept(n)` afterwards files the frame's features (when computed) under its
   * unique number n, so the next frames find them cached.
   */
  forFrame(
    stream: string,
    frame: () => KeypointImage | undefined,
    unique: (n: number) => KeypointImage | undefined,
  ): GrayZoneCheck & { kept(n: number): void } {
    let own: Keypoints | null | undefined;
    const { upper, maxChecks, ratio, reprojection, minInliers, minNcc } = this.settings;
    return {
      upper,
      maxChecks,
      verify: (n) => {
        own ??= this.describe(frame());
        const other = this.uniqueFeatures(stream, n, () => unique(n));
        this.counts.checks++;
        if (!own || !other) {
          this.counts.unreadable++;
          checksTotal().inc({ result: 'unreadable' });
          return undefined;
        }
        const match = this.native.compare(own, other, { ratio, reprojection, minInliers });
        const copy = match.inliers >= minInliers && match.ncc >= minNcc;
        checksTotal().inc({ result: copy ? 'copy' : 'distinct' });
        if (copy) this.counts.joined++;
        return copy ? match : undefined;
      },
      kept: (n) => {
        if (own !== undefined) this.remember(`${stream}\n${n}`, own);
      },
    };
  }
}
