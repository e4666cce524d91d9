/**
 * `framesift dedupe <dir>`: deduplicate a folder of images in one batch run. The workers read, decode and
 * embed (or hash) the files in parallel through the analysis pool; the main thread only puts the
 * decisions in name order, then writes the report and moves or copies files.
 */
import { availableParallelism } from 'node:os';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  createAnalysisPool,
  featureOf,
  loadLabels,
  loadManifest,
  type AnalysisPool,
} from '../analysis/index.js';
import type { DedupeConfig } from '../common/config.js';
import { ConfigError, UserError, errorMessage } from '../common/errors.js';
import { indexInto } from './index-images.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import { startProgress } from '../common/progress.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import {
  BatchDeduper,
  KeypointCheck,
  defaultThreshold,
  groupKeyFunction,
  listInputImages,
  parseChangeOptions,
  writeBatchReport,
  type BatchReportJson,
  type Method,
  type Metric,
  type SkippedFolder,
} from '../dedupe/index.js';

const log = loggerFor('dedupe');
const EMBEDDER = 'mobilenet-v3-small-075';
/** Files per worker task: large enough to batch inference, small enough to keep both workers busy. */
const FILES_PER_TASK = 16;

const corruptFiles = () =>
  metric(
    'framesift_dedupe_corrupt_files_total',
    () =>
      new prom.Counter({
        name: 'framesift_dedupe_corrupt_files_total',
        help: 'Files of a batch dedupe that could not be read or decoded (listed in the report, skipped).',
        registers: [metricsRegistry],
      }),
  );

export interface DedupeRunResult {
  report: BatchReportJson;
  reportDir: string;
  seconds: number;
  imagesPerSecond: number;
}

/** Moves or copies `rel` from `dir` into `target`, keeping its relative path and never overwriting. */
async function transfer(dir: string, rel: string, target: string, move: boolean): Promise<void> {
  const from = path.join(dir, rel);
  let to = path.join(target, rel);
  await mkdir(path.dirname(to), { recursive: true });
  for (
    let n = 1;
    await stat(to).then(
      () => true,
      () => false,
    );
    n++
  ) {
    const ext = path.extname(rel);
    to = path.join(target, `${rel.slice(0, rel.length - ext.length)}_${n}${ext}`);
  }
  if (!move) return copyFile(from, to, constants.COPYFILE_EXCL);
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to, constants.COPYFILE_EXCL);
    await unlink(from);
  }
}

const DESCRIBER = 'mobilenet-v2';

/**
 * Output locations are checked before any work (exit 2, one line): each must be a folder or creatable as
 * one, none may be the input folder itself, and the report folder is created now.
 */
async function checkOutputFolders(root: string, outDir: string, config: DedupeConfig): Promise<void> {
  const outputs: [string, string | undefined][] = [
    ['--out', outDir],
    ['--move-duplicates-to', config.moveDuplicatesTo],
    ['--copy-uniques-to', config.copyUniquesTo],
  ];
  for (const [flag, value] of outputs) {
    if (!value) continue;
    const full = path.resolve(value);
    if (full === root) {
      throw new ConfigError(`${flag} ${value}: expected a folder other than the input folder`);
    }
    const kind = await stat(full).then(
      (s) => (s.isDirectory() ? 'folder' : 'not-folder'),
      () => 'missing',
    );
    if (kind === 'not-folder') throw new ConfigError(`${flag} ${value}: expected a folder, found a file`);
    if (flag === '--out' || kind === 'missing') {
      try {
        await mkdir(full, { recursive: true });
        await access(full, constants.W_OK);
      } catch (err) {
        throw new ConfigError(
          `${flag} ${value}: expected a writable folder (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`,
        );
      }
    }
  }
}

/** MobileNetV2's top-1 ImageNet class of each kept file ("tabby cat (87%)"), computed on the workers. */
async function describeKept(
  pool: AnalysisPool,
  root: string,
  kept: string[],
  modelsDir: string,
): Promise<Map<string, string>> {
  const names = await loadLabels(loadManifest(DESCRIBER), modelsDir);
  const out = new Map<string, string>();
  const chunks: string[][] = [];
  for (let i = 0; i < kept.length; i += FILES_PER_TASK) chunks.push(kept.slice(i, i + FILES_PER_TASK));
  await Promise.all(
    chunks.map(async (chunk) => {
      const result = await pool.run({
        kind: 'images',
        method: 'cnn',
        model: DESCRIBER,
        labels: true,
        files: chunk.map((f) => path.join(root, f)),
      });
      chunk.forEach((file, i) => {
        const label = result.labels![i]!;
        if (label >= 0)
          out.set(
            file,
            `${names[label] ?? `class ${label}`} (${Math.round(result.confidences![i]! * 100)}%)`,
          );
      });
    }),
  );
  return out;
}

export async function dedupeFolder(
  dir: string,
  config: DedupeConfig,
  pool?: AnalysisPool,
): Promise<DedupeRunResult> {
  const started = performance.now();
  const root = path.resolve(dir);
  const isDir = await stat(root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new UserError(`dedupe: ${dir}: expected a folder of images`);
  const outDir = path.resolve(config.out ?? 'out');
  await checkOutputFolders(root, outDir, config);
  const skip: SkippedFolder[] = [
    { path: outDir, what: '--out' },
    ...(config.moveDuplicatesTo ? [{ path: config.moveDuplicatesTo, what: '--move-duplicates-to' }] : []),
    ...(config.copyUniquesTo ? [{ path: config.copyUniquesTo, what: '--copy-uniques-to' }] : []),
  ];
  const { files, skipped } = await listInputImages(root, skip);
  for (const s of skipped) log.warn('input not deduplicated', { file: s.file, reason: s.reason });
  const groupKey = groupKeyFunction(config.groupBy);
  const method: Method = config.method ?? 'cnn';
  const metric: Metric = config.metric ?? 'cosine';
  const threshold = config.threshold ?? defaultThreshold(method, metric);
  const change = parseChangeOptions(config.changeOptions);
  const check = KeypointCheck.create(config.keypoints ?? 'auto', { method, metric });
  const deduper = new BatchDeduper(
    files,
    groupKey,
    {
      method,
      metric,
      threshold,
      approximateAbove: config.approximateAbove ?? 20_000,
      change,
      model: method === 'cnn' ? EMBEDDER : null,
      ...(check ? { keypoints: { check, root } } : {}),
    },
    skipped,
  );
  log.info('dedupe started', { dir: root, files: files.length, skipped: skipped.length, method, threshold });

  let decidedAt = performance.now();
  let descriptions: Map<string, string> | undefined;
  const ownPool = !pool;
  // Batch work is all on the workers: use every core (the main thread only orders decisions).
  pool ??= createAnalysisPool({
    threads: config.workers ?? Math.max(1, availableParallelism()),
    intraOpThreads: 1,
    modelsDir: config.modelsDir ?? 'models',
    // Files travel by path: processes decode side by side faster than threads (analysis/process-pool.ts).
    isolation: 'processes',
  });
  const bar = startProgress('dedupe [{bar}] {value}/{total} files | {eta_formatted} left', files.length);
  try {
    if (method === 'cnn' && files.length > 0) await pool.warmup(EMBEDDER);
    // Load the describer up front: a missing model fails now, not after the whole folder.
    if (config.describe && files.length > 0) await pool.warmup(DESCRIBER);
    const inFlight = new Set<Promise<void>>();
    // Enough tasks ahead that the processes stay busy while the main thread runs a keypoint check.
    const limit = pool.threads * 8;
    for (let start = 0; start < files.length; start += FILES_PER_TASK) {
      const chunk = files.slice(start, start + FILES_PER_TASK);
      const job = pool
        .run({
          kind: 'images',
          method,
          model: method === 'cnn' ? EMBEDDER : undefined,
          files: chunk.map((f) => path.join(root, f)),
          change,
        })
        .then((result) => {
          const failed = new Map(result.failed.map((f) => [f.index, f.message]));
          chunk.forEach((file, i) => {
            const failure = failed.get(i);
            if (failure !== undefined) {
              corruptFiles().inc();
              log.warn('unreadable image skipped', { file, reason: failure });
              deduper.offer(start + i, new Error(failure.replace(path.join(root, file), file)));
            } else {
              deduper.offer(start + i, featureOf(result, i, method));
            }
          });
          bar?.update(deduper.decided);
        });
      const tracked = job.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await deduper.settled();
    decidedAt = performance.now();
    if (config.describe) {
      descriptions = await describeKept(
        pool,
        root,
        deduper.outcome().groups.map((g) => g.kept),
        config.modelsDir ?? 'models',
      );
    }
  } finally {
    bar?.stop();
    if (ownPool) await pool.destroy();
  }
  const outcome = deduper.outcome();
  const report = await writeBatchReport(outDir, root, outcome, descriptions);
  if (config.moveDuplicatesTo) {
    for (const g of outcome.groups)
      for (const d of g.duplicates) await transfer(root, d.file, path.resolve(config.moveDuplicatesTo), true);
  }
  if (config.copyUniquesTo) {
    for (const g of outcome.groups) await transfer(root, g.kept, path.resolve(config.copyUniquesTo), false);
  }
  if (config.index) {
    // The kept images go straight into the similar-image index (embedded by the same function).
    const indexed = await indexInto(
      root,
      { db: config.index, annFile: config.annFile, modelsDir: config.modelsDir, workers: config.workers },
      { files: outcome.groups.map((g) => g.kept), quiet: true },
    );
    log.info('kept images indexed', { index: config.index, added: indexed.added, total: indexed.total });
  }
  const seconds = (decidedAt - started) / 1000;
  const imagesPerSecond = files.length / Math.max(seconds, 1e-9);
  log.info('dedupe finished', { ...report.counts, seconds, imagesPerSecond });
  return { report, reportDir: outDir, seconds, imagesPerSecond };
}

export async function dedupeCommand(dir: string, config: DedupeConfig): Promise<void> {
  const { report, reportDir, seconds, imagesPerSecond } = await dedupeFolder(dir, config);
  if (config.json) {
    const reportFile = path.join(reportDir, 'report.md');
    humanLogger.info(JSON.stringify({ ...report, reportDir, reportFile, seconds, imagesPerSecond }));
    return;
  }
  const c = report.counts;
  humanLogger.info(
    `dedupe: ${c.files} files → ${c.kept} kept, ${c.duplicates} duplicates, ${c.corrupt} unreadable, ${c.skipped} not taken (listed in the report) ` +
      `(${report.method}, threshold ${report.threshold}; ${seconds.toFixed(1)} s, ${imagesPerSecond.toFixed(0)} images/s)`,
  );
  humanLogger.info(`report: ${path.join(reportDir, 'report.md')}`);
}
