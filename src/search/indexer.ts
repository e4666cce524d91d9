/**
 * Incremental indexing of a folder: files whose size and mtime match the store are skipped; changed ones
 * are hashed and re-embedded only when their content changed; new ones are embedded; files gone from the
 * folder are removed. Each batch is written in one transaction, so an interrupted run leaves a consistent
 * store and the next run resumes where it stopped (what was committed is skipped).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { ImageWrite, ModelStamp, SearchStore, StoredFile } from './store.js';

const log = loggerFor('search-index');

const indexedFiles = () =>
  metric(
    'framesift_search_indexed_files_total',
    () =>
      new prom.Counter({
        name: 'framesift_search_indexed_files_total',
        help: 'Files looked at by `framesift index`, by outcome (embedded, unchanged, touched, removed, corrupt).',
        labelNames: ['outcome'],
        registers: [metricsRegistry],
      }),
  );

/** An embedded image (with the file's sha256 when asked for), or why it could not be. */
export type Embedding = { vector: Float32Array; width: number; height: number; sha256?: string } | Error;

/** Time the embedder's workers spent, for profiling a build (decode and preprocessing vs inference). */
export interface EmbedderWork {
  images: number;
  prepMs: number;
  inferMs: number;
}

/** The photo embedder the index uses: the same function dedupe's cnn method runs on the workers. */
export interface Embedder {
  readonly model: ModelStamp;
  /** Workers that embed in parallel (batches in flight = 2 × this). */
  readonly parallelism: number;
  /** Reads, decodes and embeds files on the workers; `sha256` also hashes each file there. */
  embed(files: string[], options?: { sha256?: boolean }): Promise<Embedding[]>;
  /** Embeds encoded images (video frames). */
  embedEncoded(images: Uint8Array[]): Promise<Embedding[]>;
  work?(): EmbedderWork;
}

export interface IndexProgress {
  done: number;
  total: number;
  embedded: number;
}

export interface IndexFolderOptions {
  /** Files per embedding batch and per transaction. */
  batchSize?: number;
  onProgress?: (progress: IndexProgress) => void;
  /** Stop after the batches in flight (resumable like a kill, but clean). */
  signal?: AbortSignal;
  /** Folders below root not to index (e.g. an output folder). */
  skip?: string[];
  /**
   * Index only these files (paths relative to root), e.g. the images a dedupe kept; nothing is removed.
   * Default: every image below root, and files gone from it are removed.
   */
  files?: string[];
  /**
   * Lists the image files below root (relative paths, sorted); needed when `files` is not given. The
   * commands pass dedupe's listImageFiles: a stage does not import another stage (docs/design.md).
   */
  listFiles?: (root: string, skip?: string[]) => Promise<string[]>;
  /**
   * Videos: files this says yes to are sampled every `everySeconds` of video time through `videoFrames`
   * (the commands pass the stream stage's isVideoFile and videoFramesEvery); each frame is an entry
   * `<video>#t=<seconds>` with the video's size, mtime and sha256.
   */
  video?: {
    isVideo: (file: string) => boolean;
    everySeconds: number;
    frames: (file: string, everySeconds: number, signal?: AbortSignal) => AsyncIterable<VideoFrame>;
  };
}

/** A frame sampled from a video: its time and its JPEG bytes. */
export interface VideoFrame {
  timeMs: number;
  jpeg: Uint8Array;
}

/** Where a build's time went (seconds), for profiling. */
export interface IndexTimings {
  /** Main thread: hashing files whose mtime moved (new files are hashed on the workers). */
  hash: number;
  /** Main thread: store transactions. */
  write: number;
  /** Workers, summed over threads: read + decode + preprocessing, and inference. */
  workerPrep: number;
  workerInfer: number;
}

export interface IndexReport {
  root: string;
  /** Image files found below root. */
  files: number;
  unchanged: number;
  /** Files embedded and written (new or with new content). */
  embedded: number;
  added: number;
  changed: number;
  /** Files whose mtime moved but whose content (sha256) did not: not re-embedded. */
  touched: number;
  removed: number;
  corrupt: Array<{ file: string; reason: string }>;
  seconds: number;
  /** embedded / seconds of the embedding phase. */
  imagesPerSecond: number;
  /** Videos found below root (included in `files`), and frames written for new or changed ones. */
  videos: number;
  videoFrames: number;
  timings: IndexTimings;
  total: number;
  stopped: boolean;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Candidate {
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
  storedId?: number;
  storedSha?: string;
}

function listFilesOf(options: IndexFolderOptions): NonNullable<IndexFolderOptions['listFiles']> {
  if (!options.listFiles) throw new Error('indexFolder: give files or listFiles');
  return options.listFiles;
}

export async function indexFolder(
  store: SearchStore,
  embedder: Embedder,
  dir: string,
  options: IndexFolderOptions = {},
): Promise<IndexReport> {
  const started = performance.now();
  const root = path.resolve(dir);
  const isDir = await stat(root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new UserError(`index: ${dir}: expected a folder of images`);
  await store.ensureModel(embedder.model);
  const files = options.files ?? (await listFilesOf(options)(root, options.skip));
  const stored = new Map((await store.files(root)).map((f) => [f.path, f]));
  const report: IndexReport = {
    root,
    files: files.length,
    unchanged: 0,
    embedded: 0,
    added: 0,
    changed: 0,
    touched: 0,
    removed: 0,
    corrupt: [],
    seconds: 0,
    imagesPerSecond: 0,
    videos: 0,
    videoFrames: 0,
    timings: { hash: 0, write: 0, workerPrep: 0, workerInfer: 0 },
    total: 0,
    stopped: false,
  };
  const workBefore = embedder.work?.();
  const isVideo = options.video?.isVideo ?? (() => false);

  // Files gone from the folder first: one transaction (a video's frames go with it).
  const present = new Set(files.map((rel) => path.join(root, rel)));
  const gone = options.files
    ? []
    : [...stored.values()].filter((f) => !present.has(f.video?.path ?? f.path)).map((f) => f.id);
  /** The stored frames of each video, by the video's path. */
  const framesOf = new Map<string, StoredFile[]>();
  for (const f of stored.values()) {
    if (!f.video) continue;
    const list = framesOf.get(f.video.path) ?? [];
    list.push(f);
    framesOf.set(f.video.path, list);
  }
  await store.remove(gone);
  report.removed = gone.length;
  indexedFiles().inc({ outcome: 'removed' }, gone.length);

  const candidates: Candidate[] = [];
  const videos: Candidate[] = [];
  for (const rel of files) {
    const abs = path.join(root, rel);
    if (isVideo(rel)) {
      report.videos++;
      const s = await stat(abs).catch(() => undefined);
      if (!s) continue;
      const mtimeMs = Math.round(s.mtimeMs * 1000) / 1000;
      const frames = framesOf.get(abs) ?? [];
      if (frames.length > 0 && frames.every((f) => f.size === s.size && f.mtimeMs === mtimeMs)) {
        report.unchanged++;
        continue;
      }
      videos.push({ rel, abs, size: s.size, mtimeMs, storedSha: frames[0]?.sha256 });
      continue;
    }
    const s = await stat(abs).catch(() => undefined);
    if (!s) continue; // vanished since the listing: the next run removes it
    const before = stored.get(abs);
    // Microseconds: what every store keeps exactly (MariaDB prints doubles with 15 digits).
    const mtimeMs = Math.round(s.mtimeMs * 1000) / 1000;
    if (before && before.size === s.size && before.mtimeMs === mtimeMs) {
      report.unchanged++;
      continue;
    }
    candidates.push({
      rel,
      abs,
      size: s.size,
      mtimeMs,
      storedId: before?.id,
      storedSha: before?.sha256,
    });
  }
  indexedFiles().inc({ outcome: 'unchanged' }, report.unchanged);
  log.info('index plan', {
    root,
    files: files.length,
    unchanged: report.unchanged,
    toCheck: candidates.length,
    videosToCheck: videos.length,
    removed: gone.length,
  });

  const batchSize = options.batchSize ?? 32;
  const total = candidates.length + videos.length;
  let done = 0;
  const embedStarted = performance.now();
  // Writes go through one chain: transactions never interleave, whatever order batches finish in.
  let writes = Promise.resolve();
  const timedWrite = async (work: () => Promise<void>): Promise<void> => {
    const write = writes.then(async () => {
      const t = performance.now();
      await work();
      report.timings.write += (performance.now() - t) / 1000;
    });
    writes = write.catch(() => undefined);
    await write;
  };
  const corrupt = (c: Candidate, e: Error, name = c.abs): void => {
    const reason = e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message;
    report.corrupt.push({ file: c.rel, reason });
    indexedFiles().inc({ outcome: 'corrupt' });
    log.warn('unreadable file skipped', { file: c.abs, reason: e.message });
  };
  const runBatch = async (batch: Candidate[]): Promise<void> => {
    // A file whose mtime moved is hashed first: unchanged content is only touched, not embedded. New
    // files are hashed on the workers, which read them anyway.
    const hashStarted = performance.now();
    const known = batch.filter((c) => c.storedId !== undefined);
    const shas = new Map(
      await Promise.all(
        known.map(async (c) => [c, await sha256OfFile(c.abs).catch(() => undefined)] as const),
      ),
    );
    report.timings.hash += (performance.now() - hashStarted) / 1000;
    const touch: Array<{ id: number; mtimeMs: number }> = [];
    const toEmbed: Candidate[] = [];
    for (const c of batch) {
      if (c.storedId === undefined) {
        toEmbed.push(c);
        continue;
      }
      const sha = shas.get(c);
      if (sha === undefined) report.corrupt.push({ file: c.rel, reason: 'cannot be read' });
      else if (c.storedSha === sha) touch.push({ id: c.storedId, mtimeMs: c.mtimeMs });
      else toEmbed.push(c);
    }
    const embeddings =
      toEmbed.length > 0
        ? await embedder.embed(
            toEmbed.map((c) => c.abs),
            { sha256: true },
          )
        : [];
    const writesOfBatch: ImageWrite[] = [];
    toEmbed.forEach((c, i) => {
      const e = embeddings[i]!;
      if (e instanceof Error) return corrupt(c, e);
      writesOfBatch.push({
        path: c.abs,
        size: c.size,
        sha256: e.sha256 ?? '',
        mtimeMs: c.mtimeMs,
        width: e.width,
        height: e.height,
        vector: e.vector,
      });
      if (c.storedId === undefined) report.added++;
      else report.changed++;
    });
    await timedWrite(async () => {
      await store.write(writesOfBatch);
      await store.touch(touch);
    });
    report.embedded += writesOfBatch.length;
    report.touched += touch.length;
    indexedFiles().inc({ outcome: 'embedded' }, writesOfBatch.length);
    indexedFiles().inc({ outcome: 'touched' }, touch.length);
    done += batch.length;
    log.debug('index batch committed', { done, total });
    options.onProgress?.({ done, total, embedded: report.embedded });
  };

  /**
   * A new or changed video: hashed (unchanged content is only touched), then its frames every N seconds
   * are embedded while ffmpeg decodes the next ones, and written in one transaction with the removal of
   * its frames that no longer exist, so a video is replaced whole or not at all.
   */
  const indexVideo = async (c: Candidate): Promise<void> => {
    const { video } = options;
    const before = framesOf.get(c.abs) ?? [];
    const hashStarted = performance.now();
    const sha = await sha256OfFile(c.abs).catch(() => undefined);
    report.timings.hash += (performance.now() - hashStarted) / 1000;
    if (sha === undefined) {
      report.corrupt.push({ file: c.rel, reason: 'cannot be read' });
      return;
    }
    if (before.length > 0 && before.every((f) => f.sha256 === sha)) {
      await timedWrite(() => store.touch(before.map((f) => ({ id: f.id, mtimeMs: c.mtimeMs }))));
      report.touched++;
      indexedFiles().inc({ outcome: 'touched' });
      return;
    }
    const frames: ImageWrite[] = [];
    const pending: Array<Promise<void>> = [];
    const embedChunk = (chunk: VideoFrame[]): Promise<void> =>
      embedder.embedEncoded(chunk.map((f) => f.jpeg)).then((embeddings) => {
        chunk.forEach((f, i) => {
          const e = embeddings[i]!;
          if (e instanceof Error) throw e;
          frames.push({
            path: `${c.abs}#t=${(f.timeMs / 1000).toFixed(3)}`,
            size: c.size,
            sha256: sha,
            mtimeMs: c.mtimeMs,
            width: e.width,
            height: e.height,
            vector: e.vector,
            video: { path: c.abs, timeMs: f.timeMs },
          });
        });
      });
    try {
      let chunk: VideoFrame[] = [];
      for await (const frame of video!.frames(c.abs, video!.everySeconds, options.signal)) {
        chunk.push(frame);
        if (chunk.length < 16) continue;
        pending.push(embedChunk(chunk));
        chunk = [];
        if (pending.length >= 2 * embedder.parallelism) await pending.shift();
      }
      if (chunk.length > 0) pending.push(embedChunk(chunk));
      await Promise.all(pending);
    } catch (err) {
      await Promise.allSettled(pending);
      if (options.signal?.aborted) {
        report.stopped = true;
        return;
      }
      return corrupt(c, err instanceof Error ? err : new Error(String(err)));
    }
    if (frames.length === 0) return corrupt(c, new Error('no frame could be decoded'));
    frames.sort((a, b) => a.video!.timeMs - b.video!.timeMs);
    const kept = new Set(frames.map((f) => f.path));
    const stale = before.filter((f) => !kept.has(f.path)).map((f) => f.id);
    await timedWrite(async () => void (await store.write(frames, stale)));
    report.embedded += frames.length;
    report.videoFrames += frames.length;
    if (before.length === 0) report.added++;
    else report.changed++;
    indexedFiles().inc({ outcome: 'embedded' }, frames.length);
    log.info('video indexed', { file: c.abs, frames: frames.length, replaced: stale.length });
  };

  const inFlight = new Set<Promise<void>>();
  const limit = Math.max(1, embedder.parallelism * 2);
  let failure: unknown;
  for (let start = 0; start < total && failure === undefined; start += batchSize) {
    if (options.signal?.aborted) {
      report.stopped = true;
      break;
    }
    const job = runBatch(candidates.slice(start, start + batchSize));
    const tracked: Promise<void> = job.then(
      () => void inFlight.delete(tracked),
      (err: unknown) => {
        failure ??= err;
        inFlight.delete(tracked);
      },
    );
    inFlight.add(tracked);
    if (inFlight.size >= limit) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  for (const video of videos) {
    if (options.signal?.aborted) {
      report.stopped = true;
      break;
    }
    await indexVideo(video);
    done++;
    options.onProgress?.({ done, total, embedded: report.embedded });
  }
  const embedSeconds = (performance.now() - embedStarted) / 1000;
  const workAfter = embedder.work?.();
  if (workBefore && workAfter) {
    report.timings.workerPrep = (workAfter.prepMs - workBefore.prepMs) / 1000;
    report.timings.workerInfer = (workAfter.inferMs - workBefore.inferMs) / 1000;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.imagesPerSecond = report.embedded / Math.max(embedSeconds, 1e-9);
  report.total = await store.count();
  report.corrupt.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  log.info('index finished', { ...report, corrupt: report.corrupt.length });
  return report;
}
