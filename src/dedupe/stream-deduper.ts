/**
 * Live-stream dedupe: the run command feeds every frame's feature here in seq order; the deduper asks the
 * keyed unique store for a decision, keeps a copy of each unique's pixels (the frame ring reuses its slot)
 * and a compact log of duplicates, and writes save folders on request.
 */
import path from 'node:path';
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { Metric } from './distance.js';
import type { Feature, Method } from './methods.js';
import {
  writeUniquesFolder,
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
}

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
  length = 0;
  push(seq: number, unique: number, distance: number): void {
    if (this.length === this.seqs.length) {
      const grow = <T extends Uint32Array | Float32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.seqs = grow(this.seqs);
      this.uniques = grow(this.uniques);
      this.distances = grow(this.distances);
    }
    this.seqs[this.length] = seq;
    this.uniques[this.length] = unique;
    this.distances[this.length] = distance;
    this.length++;
  }
}

interface StreamState {
  lastSeq: number;
  kept: UniqueToSave[];
  duplicates: DuplicateLog;
}

export interface UniqueInfo {
  streamId: string;
  seq: number;
  file?: string;
  width: number;
  height: number;
  /** Frames recorded as duplicates of this unique so far. */
  duplicates: number;
}

export interface DedupeStatus {
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: string | null;
  frames: number;
  uniques: number;
  duplicates: number;
  streams: { streamId: string; frames: number; uniques: number; duplicates: number; lastSeq: number }[];
  saves: SaveResult[];
}

export class StreamDeduper {
  private readonly store: KeyedUniqueStore;
  private readonly streams = new Map<string, StreamState>();
  private readonly savesDone: SaveResult[] = [];
  private saveChain: Promise<unknown> = Promise.resolve();
  private readonly saveRate?: SaveRate;
  /** Bytes under `<outDir>/uniques/`, measured at the first save and kept up to date after. */
  private savedBytes?: number;

  constructor(private readonly options: StreamDeduperOptions) {
    this.store = options.store ?? new InMemoryKeyedStore(options);
    if (options.savesPerMinute !== undefined) this.saveRate = new SaveRate(options.savesPerMinute);
  }

  /**
   * Decides one frame. Frames of one stream must come in increasing seq order (gaps — dropped frames —
   * are fine); a frame at or before the stream's last seq is a programming error.
   */
  accept(frame: AcceptedFrame): Decision {
    let state = this.streams.get(frame.streamId);
    if (!state) {
      state = { lastSeq: -1, kept: [], duplicates: new DuplicateLog() };
      this.streams.set(frame.streamId, state);
    }
    if (frame.seq <= state.lastSeq) {
      throw new Error(
        `dedupe: stream ${frame.streamId} got seq ${frame.seq} after ${state.lastSeq}; feed frames in seq order`,
      );
    }
    state.lastSeq = frame.seq;
    const decision = this.store.decide(frame.streamId, frame.feature);
    if (decision.duplicate) {
      state.duplicates.push(frame.seq, decision.unique, decision.distance);
      framesTotal().inc({ decision: 'duplicate' });
    } else {
      const image = { ...frame.image, data: frame.image.data.slice() };
      state.kept.push({ streamId: frame.streamId, seq: frame.seq, file: frame.file, image });
      framesTotal().inc({ decision: 'unique' });
      log.debug('new unique', { streamId: frame.streamId, seq: frame.seq, nearest: decision.nearest });
    }
    return decision;
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
      threshold: this.options.threshold,
      model: this.options.model?.name ?? null,
      frames: sum('frames'),
      uniques: sum('uniques'),
      duplicates: sum('duplicates'),
      streams,
      saves: [...this.savesDone],
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
        }),
      );
    }
    return out;
  }

  /**
   * Saves every unique kept so far (all streams) to `<out>/uniques/<name>/`. The snapshot is taken now;
   * saves are written one after another. Rejects with a UserError on a bad name.
   */
  save(name: string): Promise<SaveResult> {
    try {
      sanitizeSaveName(name);
      this.saveRate?.take();
    } catch (err) {
      savesTotal().inc({ outcome: err instanceof SaveRefused ? err.reason : 'bad-name' });
      return Promise.reject(err);
    }
    const uniques: UniqueToSave[] = [];
    const duplicates = new Map<string, SavedDuplicate[]>();
    for (const [streamId, s] of this.streams) {
      uniques.push(...s.kept);
      const list: SavedDuplicate[] = [];
      for (let i = 0; i < s.duplicates.length; i++) {
        list.push({
          seq: s.duplicates.seqs[i]!,
          unique: s.kept[s.duplicates.uniques[i]!]!.seq!,
          distance: s.duplicates.distances[i]!,
        });
      }
      duplicates.set(streamId, list);
    }
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
      const result = await writeUniquesFolder({
        outDir: this.options.outDir,
        name,
        method: this.options.method,
        metric: this.options.method === 'cnn' ? this.options.metric : null,
        threshold: this.options.threshold,
        model: this.options.model,
        imageSaveQuality: this.options.imageSaveQuality,
        uniques,
        duplicates,
        ...(left !== undefined ? { maxBytes: left } : {}),
      });
      if (this.savedBytes !== undefined) this.savedBytes += result.bytes;
      return result;
    });
    this.saveChain = run.catch(() => undefined);
    return run.then(
      (result) => {
        this.savesDone.push(result);
        savesTotal().inc({ outcome: 'ok' });
        log.info('saved uniques', { ...result });
        return result;
      },
      (err: unknown) => {
        savesTotal().inc({ outcome: err instanceof SaveRefused ? err.reason : 'error' });
        throw err;
      },
    );
  }

  /** Capacity of the underlying store (uniques it has room for). */
  get storeCapacity(): number {
    return this.store.capacity;
  }
}
