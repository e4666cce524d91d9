/**
 * The search REST API and the demo page, in one module so that any HTTP server mounts them with one call:
 *
 *   GET  /api/images/:id                 the image's record
 *   GET  /api/images/:id/file            the image file itself
 *   GET  /api/images/:id/neighbours?k=   the k most similar (the image itself first)
 *   GET  /api/images/:id/vector          its feature vector
 *   POST /api/search?k=&exact=           an uploaded image (the request body, image/*) → the k most similar
 *   GET  /search                         the demo page (and its /search/app.js, /search/style.css)
 *
 * Errors are JSON `{"error": "<one line>", "code": "<stable code>"}`; every rejection is counted by code.
 * Who may ask is decided by the HTTP server's guard (src/common/http-guard.ts) before a route runs: a
 * loopback or allowed Host, a same-origin browser POST; POST /api/search is its one raw-body upload.
 * The routes live with the commands that serve them: `search --serve`, `run --index` and `app`.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import { PROJECT_ROOT } from '../common/paths.js';
import type { HttpServer } from '../common/http.js';
import { videoFrameAt } from '../stream/index.js';
import {
  ModelMismatchError,
  Searcher,
  UnknownImageError,
  imageLabel,
  videoJson,
  type Embedding,
  type ModelStamp,
  type SearchHit,
  type StoredImage,
} from '../search/index.js';

const log = loggerFor('search-api');

/** Where the demo page's files are (shipped with the package). */
export const PAGE_DIR = path.join(PROJECT_ROOT, 'web', 'search');
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/search': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/search/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/search/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/search/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const MAX_K = 1000;

const apiRequests = () =>
  metric(
    'framesift_search_api_requests_total',
    () =>
      new prom.Counter({
        name: 'framesift_search_api_requests_total',
        help: 'Search API requests, by route and outcome code (ok or the error code).',
        labelNames: ['route', 'code'],
        registers: [metricsRegistry],
      }),
  );

export interface UploadEmbedder {
  readonly model: ModelStamp;
  embedBytes(bytes: Uint8Array): Promise<Embedding>;
}

export interface SearchApiOptions {
  searcher: Searcher;
  /**
   * The embedder of uploaded images (started on first use if the caller likes); without it POST
   * /api/search answers 503. Its model is checked against the index's before any comparison.
   */
  embedder?: () => Promise<UploadEmbedder>;
  /** Largest upload (bytes). */
  maxUploadBytes: number;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function parseId(text: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(text))
    throw new ApiError(400, 'bad-id', `image id ${JSON.stringify(text)}: expected a positive integer`);
  return Number(text);
}

function parseK(url: URL, fallback: number): number {
  const text = url.searchParams.get('k');
  if (text === null) return fallback;
  const k = Number(text);
  if (!Number.isInteger(k) || k < 1 || k > MAX_K)
    throw new ApiError(400, 'bad-k', `k=${JSON.stringify(text)}: expected an integer 1-${MAX_K}`);
  return k;
}

function parseExact(url: URL): boolean {
  const text = url.searchParams.get('exact');
  return text === '1' || text === 'true' || text === '';
}

/** The image record as the API shows it. */
export function imageJson(image: StoredImage): Record<string, unknown> {
  return {
    id: image.id,
    path: image.path,
    name: imageLabel({
      path: path.basename(image.path),
      video: image.video && { ...image.video, path: path.basename(image.video.path) },
    }),
    size: image.size,
    sha256: image.sha256,
    mtime: new Date(image.mtimeMs).toISOString(),
    width: image.width,
    height: image.height,
    indexedAt: image.indexedAt,
    fileUrl: `/api/images/${image.id}/file`,
    video: videoJson(image),
  };
}

function hitsJson(hits: SearchHit[]): Array<Record<string, unknown>> {
  return hits.map((h, i) => ({
    rank: i + 1,
    distance: Number(h.distance.toFixed(6)),
    ...imageJson(h.image),
  }));
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.bmp': 'image/bmp',
};

/** Reads the body up to `limit` bytes; a larger one is refused as soon as it exceeds the limit. */
function readUpload(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(
      new ApiError(413, 'too-large', `upload of ${declared} bytes: expected at most ${limit} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        if (!refused) reject(new ApiError(413, 'too-large', `upload: expected at most ${limit} bytes`));
        refused = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** Returns a handler that answers the search routes and returns false for any other path. */
function searchRoutes(options: SearchApiOptions) {
  const { searcher } = options;

  async function neighbours(
    id: number,
    k: number,
    exact: boolean,
  ): Promise<{ source: string; hits: SearchHit[] }> {
    // Precomputed lists answer when they are current and long enough; otherwise a live search.
    if (!exact) {
      const image = await searcher.store.image(id);
      if (!image) throw new UnknownImageError(searcher.store.location, id);
      const list = await searcher.store.neighbours(id);
      if (list && list.rev >= image.rev && list.ids.length >= k - 1) {
        const hits: SearchHit[] = [{ id, distance: 0, image }];
        const others = await searcher.store.images(Array.from(list.ids.subarray(0, k - 1)));
        for (let i = 0; i < k - 1; i++) {
          const other = others.get(list.ids[i]!);
          if (other) hits.push({ id: other.id, distance: list.distances[i]!, image: other });
        }
        if (hits.length === k) return { source: 'precomputed', hits };
      }
    }
    return { source: exact ? 'exact' : 'ann', hits: await searcher.searchId(id, { k, exact }) };
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> {
    const p = url.pathname;
    const page = PAGE_FILES[p];
    if (page) {
      if (req.method !== 'GET')
        throw new ApiError(405, 'method-not-allowed', `${req.method} ${p}: expected GET`);
      const body = await readFile(path.join(PAGE_DIR, page.file));
      res.writeHead(200, {
        'content-type': page.type,
        'content-length': body.length,
        'x-content-type-options': 'nosniff',
        'content-security-policy':
          "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'",
      });
      res.end(body);
      return 'page';
    }
    if (p === '/api/search') {
      if (req.method !== 'POST')
        throw new ApiError(405, 'method-not-allowed', `${req.method} ${p}: expected POST with an image body`);
      const k = parseK(url, 20);
      const exact = parseExact(url);
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (!type.startsWith('image/') && type !== 'application/octet-stream') {
        req.resume();
        throw new ApiError(
          415,
          'unsupported-media-type',
          `Content-Type ${JSON.stringify(type)}: expected the image itself as the body (image/* or application/octet-stream)`,
        );
      }
      if (!options.embedder) {
        req.resume();
        throw new ApiError(
          503,
          'no-embedder',
          'this server has no embedder: search by id (/api/images/:id/neighbours)',
        );
      }
      const body = await readUpload(req, options.maxUploadBytes);
      if (body.length === 0)
        throw new ApiError(400, 'empty-upload', 'upload: expected an image in the request body, got 0 bytes');
      const embedder = await options.embedder();
      await searcher.checkModel(embedder.model);
      const embedding = await embedder.embedBytes(body);
      if (embedding instanceof Error)
        throw new ApiError(422, 'undecodable', `upload: not a readable image (${embedding.message})`);
      const hits = await searcher.searchVector(embedding.vector, { k, exact });
      sendJson(res, 200, {
        k,
        exact,
        model: embedder.model.name,
        query: {
          width: embedding.width,
          height: embedding.height,
          bytes: body.length,
          vector: Array.from(embedding.vector),
        },
        hits: hitsJson(hits),
      });
      return 'search';
    }
    const match = /^\/api\/images\/([^/]+)(?:\/(file|neighbours|vector))?$/.exec(p);
    if (!match)
      throw new ApiError(
        404,
        'no-route',
        `${p}: no such endpoint (expected /api/images/:id[/file|/neighbours|/vector] or POST /api/search)`,
      );
    if (req.method !== 'GET')
      throw new ApiError(405, 'method-not-allowed', `${req.method} ${p}: expected GET`);
    const id = parseId(decodeURIComponent(match[1]!));
    const part = match[2];
    if (part === 'neighbours') {
      const k = parseK(url, 20);
      const exact = parseExact(url);
      const { source, hits } = await neighbours(id, k, exact);
      sendJson(res, 200, { id, k, source, neighbours: hitsJson(hits) });
      return 'neighbours';
    }
    const image = await searcher.store.image(id);
    if (!image) throw new UnknownImageError(searcher.store.location, id);
    if (part === 'vector') {
      const vector = await searcher.store.vector(id);
      const model = await searcher.store.model();
      sendJson(res, 200, {
        id,
        model: model?.name ?? null,
        dimension: vector?.length ?? 0,
        vector: Array.from(vector ?? []),
      });
      return 'vector';
    }
    if (part === 'file') {
      let body: Buffer;
      try {
        // A video frame is cut from its video (the index keeps vectors, not pixels).
        body = image.video
          ? await videoFrameAt(image.video.path, image.video.timeMs)
          : await readFile(image.path);
      } catch {
        throw new ApiError(
          410,
          'file-gone',
          `image ${id}: ${image.path} is no longer readable (re-run framesift index)`,
        );
      }
      res.writeHead(200, {
        'content-type': image.video
          ? 'image/jpeg'
          : (CONTENT_TYPES[path.extname(image.path).toLowerCase()] ?? 'application/octet-stream'),
        'content-length': body.length,
        'cache-control': 'private, max-age=60',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
      });
      res.end(body);
      return 'file';
    }
    sendJson(res, 200, {
      ...imageJson(image),
      neighboursUrl: `/api/images/${id}/neighbours`,
      vectorUrl: `/api/images/${id}/vector`,
    });
    return 'image';
  }

  /** Answers and returns true when the path is one of this module's; false leaves it to the caller. */
  return function handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const p = url.pathname;
    if (!(p in PAGE_FILES) && p !== '/api/search' && !p.startsWith('/api/images/')) return false;
    const routeName = p.startsWith('/api/images/') ? 'images' : p === '/api/search' ? 'search' : 'page';
    // Host, Origin and token were checked by the server's guard (common/http-guard.ts) before this runs.
    const work = route(req, res, url);
    work.then(
      () => apiRequests().inc({ route: routeName, code: 'ok' }),
      (err: unknown) => {
        const e =
          err instanceof ApiError
            ? err
            : err instanceof UnknownImageError
              ? new ApiError(404, 'not-found', err.message)
              : err instanceof ModelMismatchError
                ? new ApiError(409, 'model-mismatch', err.message)
                : new ApiError(500, 'internal', errorMessage(err));
        apiRequests().inc({ route: routeName, code: e.code });
        log.log(e.status >= 500 ? 'error' : 'warn', 'search api request refused', {
          path: p,
          code: e.code,
          error: e.message,
        });
        if (!res.headersSent) sendJson(res, e.status, { error: e.message, code: e.code });
        else res.end();
        // A refused upload may still be streaming in: close the connection after the answer.
        if (!req.complete) res.once('finish', () => req.socket.destroy());
      },
    );
    return true;
  };
}

/** Mounts the search API and demo page on `http` (its guard runs first). */
export function mountSearchApi(http: HttpServer, options: SearchApiOptions): void {
  const handle = searchRoutes(options);
  const mount = (req: Parameters<typeof handle>[0], res: Parameters<typeof handle>[1], url: URL) => {
    if (!handle(req, res, url)) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: `${url.pathname}: no such endpoint`, code: 'no-route' }));
    }
  };
  http.prefix('/api/images/', mount);
  http.prefix('/api/search', mount);
  http.acceptUpload('POST', '/api/search');
  http.prefix('/search', mount);
}
