/**
 * `framesift index <dir> [--db PATH]`: embeds every image below the folder into the similar-image index,
 * incrementally (new and changed files only; deleted ones removed), then brings the ANN graph up to date.
 * A progress bar with rate and ETA on a terminal; corrupt files are listed, never fatal.
 */
import cliProgress from 'cli-progress';
import type { IndexConfig } from '../common/config.js';
import { humanLogger } from '../common/logger.js';
import { useFfmpegBinaries } from '../common/ffmpeg.js';
import { showsProgress } from '../common/progress.js';
import { isImageFile, listImageFiles } from '../dedupe/index.js';
import {
  DEFAULT_DB,
  Searcher,
  defaultAnnFile,
  indexFolder,
  isServerUrl,
  openStore,
  redactUrl,
  type IndexReport,
  type SearchStore,
} from '../search/index.js';
import { isVideoFile, videoFramesEvery } from '../stream/index.js';
import { startPhotoEmbedder, type PhotoEmbedder } from './photo-embedder.js';

export interface IndexRunOptions {
  signal?: AbortSignal;
  /** Folders below dir not to index. */
  skip?: string[];
  /** Only these files (relative to dir); nothing removed. */
  files?: string[];
  /** An embedder already started (run/dedupe reuse theirs). */
  embedder?: PhotoEmbedder;
  quiet?: boolean;
}

/** Indexes `dir` into the store at `db` (opened and closed here) and syncs the ANN graph. */
export async function indexInto(
  dir: string,
  config: {
    db: string;
    annFile?: string;
    modelsDir?: string;
    workers?: number;
    /** Also index the videos below dir, one frame every this many seconds (the index command's --every). */
    every?: number;
  },
  options: IndexRunOptions = {},
): Promise<IndexReport> {
  const store: SearchStore = await openStore(config.db);
  const embedder =
    options.embedder ??
    (await startPhotoEmbedder({ modelsDir: config.modelsDir ?? 'models', workers: config.workers }).catch(
      async (err: unknown) => {
        await store.close();
        throw err;
      },
    ));
  const bar =
    !options.quiet && showsProgress()
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'index [{bar}] {value}/{total} files | {speed} images/s | {eta_formatted} left',
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  const started = performance.now();
  try {
    let barStarted = false;
    const report = await indexFolder(store, embedder, dir, {
      signal: options.signal,
      skip: options.skip,
      files: options.files,
      ...(config.every === undefined
        ? { listFiles: listImageFiles }
        : {
            listFiles: (root: string, skip?: string[]) =>
              listImageFiles(root, skip, (name) => isImageFile(name) || isVideoFile(name)),
            video: {
              isVideo: isVideoFile,
              everySeconds: config.every,
              frames: (file: string, every: number, signal?: AbortSignal) =>
                videoFramesEvery(file, every, signal ? { signal } : {}),
            },
          }),
      onProgress: ({ done, total, embedded }) => {
        if (!bar) return;
        if (!barStarted) bar.start(total, 0, { speed: '0' });
        barStarted = true;
        bar.update(done, { speed: (embedded / ((performance.now() - started) / 1000)).toFixed(0) });
      },
    });
    bar?.stop();
    await new Searcher(store, config.annFile ?? defaultAnnFile(config.db)).syncAnn();
    return report;
  } finally {
    bar?.stop();
    if (!options.embedder) await embedder.close();
    await store.close();
  }
}

export async function indexCommand(dir: string, config: IndexConfig): Promise<void> {
  const abort = new AbortController();
  // Ctrl-C: finish the batches in flight (each one a transaction) and stop; the next run resumes.
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const db = config.db ?? DEFAULT_DB;
    useFfmpegBinaries({ ffmpeg: config.ffmpegPath });
    const report = await indexInto(dir, { ...config, db }, { signal: abort.signal });
    if (config.json) {
      humanLogger.info(JSON.stringify(report, null, 1));
      return;
    }
    humanLogger.info(
      `index: ${report.files} files in ${report.root}` +
        (report.videos > 0 ? ` (${report.videos} videos, ${report.videoFrames} frames written)` : '') +
        ` → ${report.added} added, ${report.changed} changed, ` +
        `${report.removed} removed, ${report.unchanged + report.touched} unchanged, ${report.corrupt.length} unreadable; ` +
        `${report.total} images in ${isServerUrl(db) ? redactUrl(db) : db} ` +
        `(${report.seconds.toFixed(1)} s, ${report.imagesPerSecond.toFixed(0)} images/s)` +
        (report.stopped ? ' — stopped early: run again to resume' : ''),
    );
    for (const c of report.corrupt) humanLogger.info(`  unreadable: ${c.file}: ${c.reason}`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
