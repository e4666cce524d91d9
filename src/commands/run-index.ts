/**
 * `run --index PATH` (and `app`): each uniques folder a session saves goes into a similar-image index as
 * soon as it is written, and the HTTP port serves the search API and demo page over that index. Kept apart from run.ts so that the run
 * command only calls `attachSearchIndex` and `indexSaved`.
 */
import path from 'node:path';
import { loggerFor } from '../common/logger.js';
import type { HttpServer } from '../common/http.js';
import { Searcher, defaultAnnFile, openStore, type SearchStore } from '../search/index.js';
import { indexInto } from './index-images.js';
import { startPhotoEmbedder, type PhotoEmbedder } from './photo-embedder.js';
import { mountSearchApi } from './search-api.js';

const log = loggerFor('run-index');

export interface RunIndexConfig {
  index: string;
  annFile?: string;
  modelsDir: string;
  maxUploadBytes?: number;
}

export interface RunIndex {
  /** Adds the images of saved uniques folders to the index. */
  indexSaved(folders: string[]): Promise<void>;
  close(): Promise<void>;
}

export async function attachSearchIndex(http: HttpServer, config: RunIndexConfig): Promise<RunIndex> {
  const store: SearchStore = await openStore(config.index);
  const annFile = config.annFile ?? defaultAnnFile(config.index);
  // The upload embedder starts on the first POST /api/search only: most runs never get one.
  let embedder: Promise<PhotoEmbedder> | undefined;
  const lazyEmbedder = () => (embedder ??= startPhotoEmbedder({ modelsDir: config.modelsDir, workers: 1 }));
  mountSearchApi(http, {
    searcher: new Searcher(store, annFile),
    embedder: lazyEmbedder,
    maxUploadBytes: config.maxUploadBytes ?? 20 * 1024 * 1024,
  });
  // One indexing at a time: two saves in quick succession must not write the store at once.
  let indexing: Promise<void> = Promise.resolve();
  const indexFolders = async (folders: string[]) => {
    for (const folder of folders) {
      const report = await indexInto(
        folder,
        { db: config.index, annFile, modelsDir: config.modelsDir },
        { quiet: true, embedder: embedder ? await embedder : undefined },
      );
      log.info('saved uniques indexed', {
        folder: path.resolve(folder),
        added: report.added,
        total: report.total,
      });
    }
  };
  return {
    indexSaved(folders) {
      const next = indexing.then(() => indexFolders(folders));
      indexing = next.catch(() => undefined);
      return next;
    },
    async close() {
      await indexing;
      if (embedder) await (await embedder).close();
      await store.close();
    },
  };
}
