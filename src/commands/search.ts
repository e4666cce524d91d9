/**
 * `framesift search <image-file | id> [-k 20] [--json] [--exact] [--db PATH]`: the k most similar indexed
 * images, as a table or JSON. `framesift search --serve [--port P]` serves the search API and the demo page
 * instead (loopback only); search-api.ts holds the routes (also mounted by run and app).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SearchConfig } from '../common/config.js';
import { UserError } from '../common/errors.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import { startHttpServer } from '../common/http.js';
import {
  DEFAULT_DB,
  Searcher,
  defaultAnnFile,
  imageLabel,
  openStore,
  videoJson,
  type SearchHit,
  type SearchStore,
} from '../search/index.js';
import { startPhotoEmbedder } from './photo-embedder.js';
import { mountSearchApi } from './search-api.js';

const log = loggerFor('search');

function table(hits: SearchHit[]): string {
  const rows = hits.map((h, i) => [String(i + 1), String(h.id), h.distance.toFixed(4), imageLabel(h.image)]);
  const head = ['rank', 'id', 'distance', 'path'];
  const widths = head.map((t, c) => Math.max(t.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c < 3 ? cell.padStart(widths[c]!) : cell)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** Resolves the query: an existing file is an image; otherwise a positive integer is an id. */
async function queryKind(query: string): Promise<{ file: string } | { id: number }> {
  const isFile = await stat(query).then(
    (s) => s.isFile(),
    () => false,
  );
  if (isFile) return { file: path.resolve(query) };
  if (/^[1-9][0-9]{0,14}$/.test(query)) return { id: Number(query) };
  throw new UserError(`search: ${query}: expected an image file or the id of an indexed image`);
}

type ResolvedSearchConfig = SearchConfig & {
  db: string;
  modelsDir: string;
  searchK: number;
  searchPort: number;
  maxUploadBytes: number;
};

async function serve(store: SearchStore, config: ResolvedSearchConfig): Promise<void> {
  const searcher = new Searcher(store, config.annFile ?? defaultAnnFile(config.db));
  await searcher.syncAnn();
  const embedder = await startPhotoEmbedder({ modelsDir: config.modelsDir, workers: config.workers ?? 1 });
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: config.searchPort,
    what: 'the search server',
    hint: 'choose another --port (0 = any free port)',
  });
  mountSearchApi(http, {
    searcher,
    embedder: async () => embedder,
    maxUploadBytes: config.maxUploadBytes,
  });
  humanLogger.info(
    `search: serving ${await store.count()} images of ${store.location} at ${http.url}/search`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.info('search server stopping');
  await http.close();
  await embedder.close();
}

export async function searchCommand(query: string | undefined, flags: SearchConfig): Promise<void> {
  const config = {
    ...flags,
    db: flags.db ?? DEFAULT_DB,
    modelsDir: flags.modelsDir ?? 'models',
    searchK: flags.searchK ?? 20,
    searchPort: flags.searchPort ?? 8080,
    maxUploadBytes: flags.maxUploadBytes ?? 20 * 1024 * 1024,
  };
  if (!config.serveSearch && query === undefined) {
    throw new UserError('search: expected an image file or an image id (or --serve)');
  }
  const store = await openStore(config.db);
  try {
    if (config.serveSearch) return await serve(store, config);
    const q = await queryKind(query!);
    const searcher = new Searcher(store, config.annFile ?? defaultAnnFile(config.db));
    const options = { k: config.searchK, exact: config.exact ?? false };
    let hits: SearchHit[];
    if ('id' in q) {
      hits = await searcher.searchId(q.id, options);
    } else {
      if (!(await store.model()))
        throw new UserError(
          `search: the index ${store.location} is empty: run "framesift index <dir>" first`,
        );
      const embedder = await startPhotoEmbedder({ modelsDir: config.modelsDir, workers: 1 });
      try {
        await searcher.checkModel(embedder.model);
        const [embedding] = await embedder.embed([q.file]);
        if (embedding instanceof Error) throw new UserError(`search: ${embedding.message}`);
        hits = await searcher.searchVector(embedding!.vector, options);
      } finally {
        await embedder.close();
      }
    }
    if (config.json) {
      humanLogger.info(
        JSON.stringify(
          {
            query: 'id' in q ? { id: q.id } : { file: q.file },
            k: options.k,
            exact: options.exact,
            model: (await store.model())?.name ?? null,
            hits: hits.map((h, i) => ({
              rank: i + 1,
              id: h.id,
              distance: h.distance,
              path: h.image.path,
              width: h.image.width,
              height: h.image.height,
              size: h.image.size,
              sha256: h.image.sha256,
              video: videoJson(h.image),
            })),
          },
          null,
          1,
        ),
      );
    } else {
      humanLogger.info(table(hits));
    }
  } finally {
    await store.close();
  }
}
