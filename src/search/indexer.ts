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
import type { ImageWrite, ModelStamp, SearchStore } from './store.js';

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

/** An embedded image, or why it could not be. */
export type Embedding = { vector: Float32Array; width: number; height: number } | Error;

/** The photo embedder the index uses: the same function dedupe's cnn method runs on the workers. */
export interface Embedder {
  readonly model: ModelStamp;
  /** Workers that embed in parallel (batches in flight = 2 × this). */
  readonly parallelism: number;
  embed(files: string[]): Promise<Embedding[]>;
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
    total: 0,
    stopped: false,
  };

  // Files gone from the folder first: one transaction.
  const present = new Set(files.map((rel) => path.join(root, rel)));
  const gone = options.files ? [] : [...stored.values()].filter((f) => !present.has(f.path)).map((f) => f.id);
  await store.remove(gone);
  report.removed = gone.length;
  indexedFiles().inc({ outcome: 'removed' }, gone.length);

  const candidates: Candidate[] = [];
  for (const rel of files) {
    const abs = path.join(root, rel);
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
    removed: gone.length,
  });

  const batchSize = options.batchSize ?? 32;
  const total = candidates.length;
  let done = 0;
  const embedStarted = performance.now();
  // Writes go through one chain: transactions never interleave, whatever order batches finish in.
  let writes = Promise.resolve();
  const runBatch = async (batch: Candidate[]): Promise<void> => {
    const shas = await Promise.all(batch.map((c) => sha256OfFile(c.abs).catch(() => undefined)));
    const touch: Array<{ id: number; mtimeMs: number }> = [];
    const toEmbed: Array<{ c: Candidate; sha: string }> = [];
    batch.forEach((c, i) => {
      const sha = shas[i];
      if (sha === undefined) {
        report.corrupt.push({ file: c.rel, reason: 'cannot be read' });
      } else if (c.storedId !== undefined && c.storedSha === sha) {
        touch.push({ id: c.storedId, mtimeMs: c.mtimeMs });
      } else {
        toEmbed.push({ c, sha });
      }
    });
    const embeddings = toEmbed.length > 0 ? await embedder.embed(toEmbed.map((e) => e.c.abs)) : [];
    const writesOfBatch: ImageWrite[] = [];
    toEmbed.forEach(({ c, sha }, i) => {
      const e = embeddings[i]!;
      if (e instanceof Error) {
        const reason = e.message.startsWith(`${c.abs}: `) ? e.message.slice(c.abs.length + 2) : e.message;
        report.corrupt.push({ file: c.rel, reason });
        indexedFiles().inc({ outcome: 'corrupt' });
        log.warn('unreadable image skipped', { file: c.abs, reason: e.message });
        return;
      }
      writesOfBatch.push({
        path: c.abs,
        size: c.size,
        sha256: sha,
        mtimeMs: c.mtimeMs,
        width: e.width,
        height: e.height,
        vector: e.vector,
      });
      if (c.storedId === undefined) report.added++;
      else report.changed++;
    });
    const write = writes.then(async () => {
      await store.write(writesOfBatch);
      await store.touch(touch);
    });
    writes = write.catch(() => undefined);
    await write;
    report.embedded += writesOfBatch.length;
    report.touched += touch.length;
    indexedFiles().inc({ outcome: 'embedded' }, writesOfBatch.length);
    indexedFiles().inc({ outcome: 'touched' }, touch.length);
    done += batch.length;
    log.debug('index batch committed', { done, total });
    options.onProgress?.({ done, total, embedded: report.embedded });
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
  const embedSeconds = (performance.now() - embedStarted) / 1000;
  report.seconds = (performance.now() - started) / 1000;
  report.imagesPerSecond = report.embedded / Math.max(embedSeconds, 1e-9);
  report.total = await store.count();
  report.corrupt.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  log.info('index finished', { ...report, corrupt: report.corrupt.length });
  return report;
}
