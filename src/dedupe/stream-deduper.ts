/**
 * Live-stream dedupe: the run command feeds every frame's feature here in seq order; the deduper asks the
 * keyed unique store for a decision, keeps a copy of each unique's pixels (the frame ring reuses its slot)
 * and a compact log of duplicates, and writes save folders on request.
 */
import path from 'node:path';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { sourceTimeOf } from '../common/wire/frame-time.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { Metric } from './distance.js';
import { FrameSpool } from './frame-spool.js';
import {
  writeFramesSave,
  type FrameToSave,
  type FramesSaveResult,
  type SaveAs,
  type SaveFrames,
} from './frames-save.js';
import { keypointImageOf, type FrameCheck, type KeypointCheck, type KeypointCounts } from './keypoints.js';
import type { Feature, Method } from './methods.js';
import {
  writeUniquesFolder,
  type ThresholdChange,
  type KeptImage,
  type ModelInfo,
  type SaveResult,
  type SavedDuplicate,
  type UniqueToSave,
} from './save.js';
import { SaveRate, SaveRefused, bytesUnder } from './save-limits.js';
import { sanitizeSaveName } from '../common/save-name.js';
import {
  InMemoryKeyedStore,
  type Decision,
  type KeyedUniqueStore,
  type UniqueStoreOptions,
} from './store.js';

const log = loggerFor('dedupe');

const framesTotal = () =>
  metric(
    'framesift_dedupe_frames_total',
    () =>
      new prom.Counter({
        name: 'framesift_dedupe_frames_total',
        help: 'Frames decided by the unique store, by decision (unique or duplicate).',
        labelNames: ['decision'],
        registers: [metricsRegistry],
      }),
  );
const savesTotal = () =>
  metric(
    'framesift_dedupe_saves_total',
    () =>
      new prom.Counter({
        name: 'framesift_dedupe_saves_total',
        help: 'Unique-folder saves, by outcome (ok, bad-name, save-rate, save-bytes, error).',
        labelNames: ['outcome'],
        registers: [metricsRegistry],
      }),
  );

export interface StreamDeduperOptions extends UniqueStoreOptions {
  outDir: string;
  /** Most saves a minute (--save-rate); undefined = no limit. */
  savesPerMinute?: number;
  /** Most bytes of all saves under `<outDir>/uniques/`, earlier runs' included (--max-save-bytes). */
  maxSaveBytes?: number;
  imageSaveQuality: number;
  model: ModelInfo | null;
  /** Another store implementation (e.g. a partitioned one); default: in-process. */
  store?: KeyedUniqueStore;
  /** The keypoint check of photo frames the embedding would keep (./keypoints.ts); none: the rule alone. */
  keypoints?: KeypointCheck;
  /** Codec of video saves (VIDEO_CODEC); default h264. */
  videoCodec?: string;
  /** Frame rate of video saves; default 10. */
  videoFps?: number;
  /**
   * Keep every frame (on disk, in a temp folder) so that saves may hold all frames, not only the kept ones
   * (`--save-frames all`). Off by default: nothing but the kept frames is retained.
   */
  retainAllFrames?: boolean;
}

/** How a save is written: images (default) or a video; the kept frames (default) or all frames. */
export interface SaveOptions {
  saveAs?: SaveAs;
  frames?: SaveFrames;
  /** Images wider than this are scaled down (image saves of kept frames; the app's save option). */
  maxWidth?: number;
}

/** What a save wrote; image saves of kept frames have no saveAs/frames fields (as before). */
export type DedupeSaveResult = Omit<SaveResult, 'bytes'> &
  Partial<Pick<SaveResult, 'bytes'>> &
  Partial<Pick<FramesSaveResult, 'saveAs' | 'frames' | 'video'>>;

export interface AcceptedFrame {
  streamId: string;
  seq: number;
  feature: Feature;
  /** A view of the frame's pixels; copied only when the frame is kept. */
  image: KeptImage;
  file?: string;
}

/** Grow-by-doubling log of duplicates: 12 bytes a frame, for the manifests. */
class DuplicateLog {
  seqs = new Uint32Array(64);
  uniques = new Uint32Array(64);
  distances = new Float32Array(64);
  /** Source time of each duplicate, NaN when its frame carried none. */
  times = new Float64Array(64);
  length = 0;
  push(seq: number, unique: number, distance: number, time = NaN): void {
    if (this.length === this.seqs.length) {
      const grow = <T extends Uint32Array | Float32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.seqs = grow(this.seqs);
      this.uniques = grow(this.uniques);
      this.distances = grow(this.distances);
      this.times = grow(this.times);
    }
    this.times[this.length] = time;
    this.seqs[this.length] = seq;
    this.uniques[this.length] = unique;
    this.distances[this.length] = distance;
    this.length++;
  }
}

/** A unique with when it was kept and how far its nearest earlier unique was. */
interface KeptUnique extends UniqueToSave {
  keptAt: number;
}

/** A duplicate a unique absorbed, with a copy of its pixels while the budget lasts. */
export interface AbsorbedDuplicate {
  seq: number;
  distance: number;
  image?: KeptImage;
}

interface StreamState {
  lastSeq: number;
  kept: KeptUnique[];
  duplicates: DuplicateLog;
  /** Per unique (keep order): the first ABSORBED_IMAGES_PER_UNIQUE duplicates' pixels. */
  absorbed: Map<number, AbsorbedDuplicate[]>;
}

/**
 * Duplicate images kept per unique for the live page, and the byte budget for all of them: memory stays
 * bounded however long the session runs (the duplicate log keeps every duplicate's seq and distance).
 */
export const ABSORBED_IMAGES_PER_UNIQUE = 6;
export const ABSORBED_BYTES_BUDGET = 32 * 1024 * 1024;

export interface UniqueInfo {
  streamId: string;
  seq: number;
  file?: string;
  width: number;
  height: number;
  /** Frames recorded as duplicates of this unique so far. */
  duplicates: number;
  /** When it was kept, ms since the epoch. */
  keptAt: number;
  /** Distance to the nearest unique kept before it (absent for a stream's first frame). */
  nearest?: number;
  /** Its time in the source video, ms (video sources). */
  sourceTimeMs?: number;
}

/** One unique and the duplicates it absorbed (the first `limit`, in seq order). */
export interface UniqueDetail extends UniqueInfo {
  absorbed: Array<{ seq: number; distance: number; image: boolean }>;
}

export interface DedupeStatus {
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: string | null;
  /** Live threshold changes, oldest first. */
  thresholdChanges: ThresholdChange[];
  frames: number;
  uniques: number;
  duplicates: number;
  streams: { streamId: string; frames: number; uniques: number; duplicates: number; lastSeq: number }[];
  saves: DedupeSaveResult[];
  /** What the keypoint check did (its joins are among `duplicates`); null when off or not built. */
  keypoints: KeypointCounts | null;
}

export class StreamDeduper {
  private readonly store: KeyedUniqueStore;
  private readonly streams = new Map<string, StreamState>();
  private readonly savesDone: DedupeSaveResult[] = [];
  private readonly saveListeners: Array<(result: DedupeSaveResult) => Promise<void>> = [];
  private saveChain: Promise<unknown> = Promise.resolve();
  private readonly thresholdChanges: ThresholdChange[] = [];
  private frames = 0;
  private absorbedBytes = 0;
  private readonly saveRate?: SaveRate;
  /** Bytes under `<outDir>/uniques/`, measured at the first save and kept up to date after. */
  private savedBytes?: number;
  private readonly spool?: FrameSpool;
  private readonly spoolStreams: string[] = [];

  constructor(private readonly options: StreamDeduperOptions) {
    this.store = options.store ?? new InMemoryKeyedStore(options);
    if (options.savesPerMinute !== undefined) this.saveRate = new SaveRate(options.savesPerMinute);
    if (options.retainAllFrames) this.spool = new FrameSpool();
  }

  /** Waits for saves in progress (an API save may be encoding a video), then releases the retained frames. */
  async close(): Promise<void> {
    await this.saveChain;
    this.spool?.close();
  }

  /**
   * `accept`, with the keypoint check's work for a frame that reaches the gray zone done on pool threads
   * first, so the main thread keeps receiving frames meanwhile. Await each before the next frame's.
   */
  async acceptChecked(frame: AcceptedFrame): Promise<Decision> {
    const check = this.checkFor(frame);
    await check?.prepareFor(this.store, frame.streamId, frame.feature);
    return this.accept(frame, check);
  }

  /** The keypoint check of one frame against its stream's uniques (their kept pixels). */
  private checkFor(frame: AcceptedFrame): FrameCheck | undefined {
    return this.options.keypoints?.forFrame(
      frame.streamId,
      () => keypointImageOf(frame.image),
      (n) => {
        const kept = this.streams.get(frame.streamId)?.kept[n];
        return kept ? keypointImageOf(kept.image) : undefined;
      },
    );
  }

  /**
   * Decides one frame. Frames of one stream must come in increasing seq order (gaps — dropped frames —
   * are fine); a frame at or before the stream's last seq is a programming error. A keypoint check, when
   * configured, runs on this thread (`acceptChecked` runs its work on pool threads first).
   */
  accept(frame: AcceptedFrame, check = this.checkFor(frame)): Decision {
    let state = this.streams.get(frame.streamId);
    if (!state) {
      state = { lastSeq: -1, kept: [], duplicates: new DuplicateLog(), absorbed: new Map() };
      this.streams.set(frame.streamId, state);
    }
    if (frame.seq <= state.lastSeq) {
      throw new Error(
        `dedupe: stream ${frame.streamId} got seq ${frame.seq} after ${state.lastSeq}; feed frames in seq order`,
      );
    }
    state.lastSeq = frame.seq;
    const sourceTimeMs = frame.image.encoding === 1 ? sourceTimeOf(frame.image.data) : undefined;
    if (this.spool) {
      let stream = this.spoolStreams.indexOf(frame.streamId);
      if (stream < 0) stream = this.spoolStreams.push(frame.streamId) - 1;
      this.spool.add(frame.seq, frame.image, sourceTimeMs, stream);
    }
    const decision = this.store.decide(frame.streamId, frame.feature, check);
    this.frames++;
    if (decision.duplicate) {
      state.duplicates.push(frame.seq, decision.unique, decision.distance, sourceTimeMs);
      this.absorb(state, decision.unique, frame, decision.distance);
      framesTotal().inc({ decision: 'duplicate' });
    } else {
      const image = { ...frame.image, data: frame.image.data.slice() };
      state.kept.push({
        streamId: frame.streamId,
        seq: frame.seq,
        file: frame.file,
        image,
        keptAt: Date.now(),
        ...(decision.nearest ? { nearest: decision.nearest.distance } : {}),
        ...(sourceTimeMs !== undefined ? { sourceTimeMs } : {}),
      });
      check?.kept(decision.unique);
      framesTotal().inc({ decision: 'unique' });
      log.debug('new unique', { streamId: frame.streamId, seq: frame.seq, nearest: decision.nearest });
    }
    return decision;
  }

  private absorb(state: StreamState, unique: number, frame: AcceptedFrame, distance: number): void {
    let list = state.absorbed.get(unique);
    if (!list) state.absorbed.set(unique, (list = []));
    if (list.length >= ABSORBED_IMAGES_PER_UNIQUE) return;
    const bytes = frame.image.data.byteLength;
    const fits = this.absorbedBytes + bytes <= ABSORBED_BYTES_BUDGET;
    if (fits) this.absorbedBytes += bytes;
    list.push({
      seq: frame.seq,
      distance,
      ...(fits ? { image: { ...frame.image, data: frame.image.data.slice() } } : {}),
    });
  }

  /** The threshold of later decisions. */
  get threshold(): number {
    return this.store.threshold;
  }

  /** Changes the threshold of every later decision (earlier ones stand); recorded for the manifests. */
  setThreshold(threshold: number): void {
    if (!Number.isFinite(threshold) || threshold < 0) {
      throw new RangeError(`threshold: expected a number ≥ 0, got ${threshold}`);
    }
    if (threshold === this.store.threshold) return;
    this.store.threshold = threshold;
    this.thresholdChanges.push({ frames: this.frames, threshold, at: new Date().toISOString() });
    log.info('threshold changed', { threshold, afterFrames: this.frames });
  }

  status(): DedupeStatus {
    const streams = [...this.streams.entries()].map(([streamId, s]) => ({
      streamId,
      frames: s.kept.length + s.duplicates.length,
      uniques: s.kept.length,
      duplicates: s.duplicates.length,
      lastSeq: s.lastSeq,
    }));
    const sum = (k: 'frames' | 'uniques' | 'duplicates') => streams.reduce((t, s) => t + s[k], 0);
    return {
      method: this.options.method,
      metric: this.options.method === 'cnn' ? this.options.metric : null,
      threshold: this.store.threshold,
      model: this.options.model?.name ?? null,
      thresholdChanges: [...this.thresholdChanges],
      frames: sum('frames'),
      uniques: sum('uniques'),
      duplicates: sum('duplicates'),
      streams,
      saves: [...this.savesDone],
      keypoints: this.options.keypoints ? { ...this.options.keypoints.counts } : null,
    };
  }

  uniques(): UniqueInfo[] {
    const out: UniqueInfo[] = [];
    for (const [streamId, s] of this.streams) {
      const counts = new Uint32Array(s.kept.length);
      for (let i = 0; i < s.duplicates.length; i++) counts[s.duplicates.uniques[i]!]!++;
      s.kept.forEach((k, i) =>
        out.push({
          streamId,
          seq: k.seq!,
          ...(k.file !== undefined ? { file: k.file } : {}),
          width: k.image.width,
          height: k.image.height,
          duplicates: counts[i]!,
          keptAt: k.keptAt,
          ...(k.nearest !== undefined ? { nearest: k.nearest } : {}),
          ...(k.sourceTimeMs !== undefined ? { sourceTimeMs: k.sourceTimeMs } : {}),
        }),
      );
    }
    return out;
  }

  /** The pixels of a unique, or of an absorbed duplicate still held, by stream and seq. */
  imageOf(streamId: string, seq: number): KeptImage | undefined {
    const s = this.streams.get(streamId);
    if (!s) return undefined;
    const index = s.kept.findIndex((k) => k.seq === seq);
    if (index >= 0) return s.kept[index]!.image;
    for (const list of s.absorbed.values()) {
      const hit = list.find((d) => d.seq === seq);
      if (hit) return hit.image;
    }
    return undefined;
  }

  /** A unique and the first `limit` duplicates it absorbed (seq order), or undefined if no such unique. */
  unique(streamId: string, seq: number, limit = 200): UniqueDetail | undefined {
    const s = this.streams.get(streamId);
    const index = s ? s.kept.findIndex((k) => k.seq === seq) : -1;
    if (!s || index < 0) return undefined;
    const k = s.kept[index]!;
    const withImage = new Set((s.absorbed.get(index) ?? []).filter((d) => d.image).map((d) => d.seq));
    const absorbed: UniqueDetail['absorbed'] = [];
    let total = 0;
    for (let i = 0; i < s.duplicates.length; i++) {
      if (s.duplicates.uniques[i] !== index) continue;
      total++;
      if (absorbed.length < limit) {
        const dseq = s.duplicates.seqs[i]!;
        absorbed.push({ seq: dseq, distance: s.duplicates.distances[i]!, image: withImage.has(dseq) });
      }
    }
    return {
      streamId,
      seq,
      ...(k.file !== undefined ? { file: k.file } : {}),
      width: k.image.width,
      height: k.image.height,
      duplicates: total,
      keptAt: k.keptAt,
      ...(k.nearest !== undefined ? { nearest: k.nearest } : {}),
      absorbed,
    };
  }

  /**
   * Saves every unique kept so far (all streams) to `<out>/uniques/<name>/`. The snapshot is taken now;
   * saves are written one after another. Rejects with a UserError on a bad name.
   */
  save(name: string, options: SaveOptions = {}): Promise<DedupeSaveResult> {
    try {
      sanitizeSaveName(name);
      this.saveRate?.take();
    } catch (err) {
      savesTotal().inc({ outcome: err instanceof SaveRefused ? err.reason : 'bad-name' });
      return Promise.reject(err);
    }
    const saveAs = options.saveAs ?? 'images';
    const frames = options.frames ?? 'kept';
    if (saveAs !== 'images' || frames !== 'kept') return this.saveFrames(name, saveAs, frames);
    const uniques: UniqueToSave[] = [];
    const duplicates = new Map<string, SavedDuplicate[]>();
    for (const [streamId, s] of this.streams) {
      uniques.push(...s.kept);
      const list: SavedDuplicate[] = [];
      for (let i = 0; i < s.duplicates.length; i++) {
        const time = s.duplicates.times[i]!;
        list.push({
          seq: s.duplicates.seqs[i]!,
          ...(Number.isNaN(time) ? {} : { sourceTimeMs: time }),
          unique: s.kept[s.duplicates.uniques[i]!]!.seq!,
          distance: s.duplicates.distances[i]!,
        });
      }
      duplicates.set(streamId, list);
    }
    return this.recordSave((left) =>
      writeUniquesFolder({
        outDir: this.options.outDir,
        name,
        method: this.options.method,
        metric: this.options.method === 'cnn' ? this.options.metric : null,
        threshold: this.store.threshold,
        thresholdChanges: [...this.thresholdChanges],
        ...(options.maxWidth !== undefined ? { maxWidth: options.maxWidth } : {}),
        model: this.options.model,
        imageSaveQuality: this.options.imageSaveQuality,
        uniques,
        duplicates,
        ...(left !== undefined ? { maxBytes: left } : {}),
      }),
    );
  }

  /** Saves as a video, or all frames as images: the frame list is snapshotted now, written in turn. */
  private saveFrames(name: string, saveAs: SaveAs, frames: SaveFrames): Promise<DedupeSaveResult> {
    if (frames === 'all' && !this.spool) {
      savesTotal().inc({ outcome: 'error' });
      return Promise.reject(
        new UserError('save of all frames: the run keeps only kept frames (start it with --save-frames all)'),
      );
    }
    const list: FrameToSave[] = [];
    if (frames === 'kept') {
      for (const [streamId, s] of this.streams) {
        for (const k of s.kept) {
          list.push({
            streamId,
            seq: k.seq!,
            unique: true,
            width: k.image.width,
            height: k.image.height,
            ...(k.sourceTimeMs !== undefined ? { sourceTimeMs: k.sourceTimeMs } : {}),
            load: () => k.image,
          });
        }
      }
    } else {
      const spool = this.spool!;
      const keptSeqs = new Map([...this.streams].map(([id, s]) => [id, new Set(s.kept.map((k) => k.seq!))]));
      for (const f of spool.frames) {
        const streamId = this.spoolStreams[f.stream]!;
        list.push({
          streamId,
          seq: f.seq,
          unique: keptSeqs.get(streamId)?.has(f.seq) ?? false,
          width: f.width,
          height: f.height,
          ...(f.sourceTimeMs !== undefined ? { sourceTimeMs: f.sourceTimeMs } : {}),
          load: () => spool.read(f),
        });
      }
    }
    return this.recordSave(() =>
      writeFramesSave({
        outDir: this.options.outDir,
        name,
        saveAs,
        frames,
        list,
        videoCodec: this.options.videoCodec ?? 'h264',
        videoFps: this.options.videoFps ?? 10,
        imageSaveQuality: this.options.imageSaveQuality,
        method: this.options.method,
        metric: this.options.method === 'cnn' ? this.options.metric : null,
        threshold: this.options.threshold,
        model: this.options.model,
      }),
    );
  }

  /**
   * Runs one save after the previous ones, within what --max-save-bytes leaves (`left`, when limited);
   * counts and logs its outcome.
   */
  private recordSave(write: (left?: number) => Promise<DedupeSaveResult>): Promise<DedupeSaveResult> {
    const maxBytes = this.options.maxSaveBytes;
    const run = this.saveChain.then(async () => {
      let left: number | undefined;
      if (maxBytes !== undefined) {
        this.savedBytes ??= await bytesUnder(path.join(this.options.outDir, 'uniques'));
        left = maxBytes - this.savedBytes;
        if (left <= 0) {
          throw new SaveRefused(
            507,
            'save-bytes',
            `save refused: the saves under --out already hold ${this.savedBytes} bytes, the limit of --max-save-bytes is ${maxBytes}`,
          );
        }
      }
      const result = await write(left);
      if (this.savedBytes !== undefined) {
        this.savedBytes =
          'bytes' in result && typeof result.bytes === 'number'
            ? this.savedBytes + result.bytes
            : await bytesUnder(path.join(this.options.outDir, 'uniques'));
      }
      return result;
    });
    this.saveChain = run.catch(() => undefined);
    return run.then(
      async (result) => {
        this.savesDone.push(result);
        savesTotal().inc({ outcome: 'ok' });
        log.info('saved', { ...result });
        // What follows a save (--index) is done before the save is answered, so a search right after a
        // save finds its images; its failure is logged, never a failed save.
        for (const listener of this.saveListeners) {
          await listener(result).catch((err: unknown) =>
            log.error('after save', { folder: result.folder, error: errorMessage(err) }),
          );
        }
        return result;
      },
      (err: unknown) => {
        savesTotal().inc({ outcome: err instanceof SaveRefused ? err.reason : 'error' });
        throw err;
      },
    );
  }

  /** Runs `listener` after each successful save, before the save is answered. */
  onSaved(listener: (result: DedupeSaveResult) => Promise<void>): void {
    this.saveListeners.push(listener);
  }

  /** Capacity of the underlying store (uniques it has room for). */
  get storeCapacity(): number {
    return this.store.capacity;
  }
}
