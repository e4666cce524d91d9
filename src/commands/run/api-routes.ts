/**
 * The `/api/*` routes of a run's HTTP server (the port that also serves `/metrics`), over the run's
 * unique store: `GET /api/status`, `GET /api/uniques`, `POST /api/save {"name": "…", "saveAs":
 * "images"|"video", "frames": "kept"|"all"}` (saveAs and frames optional: images of the kept frames by
 * default; a video uses the run's VIDEO_CODEC; all frames needs a run started with --save-frames all).
 * They answer JSON and never throw.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError, errorMessage } from '../../common/errors.js';
import { sendJson as send, type HttpServer } from '../../common/http.js';
import { loggerFor } from '../../common/logger.js';
import { metric, metricsRegistry, prom } from '../../common/metrics.js';
import { bounded } from '../../common/text.js';
import { SaveRefused, type StreamDeduper } from '../../dedupe/index.js';

const log = loggerFor('run.api');
const MAX_BODY_BYTES = 64 * 1024;

const apiErrors = () =>
  metric(
    'framesift_dedupe_api_errors_total',
    () =>
      new prom.Counter({
        name: 'framesift_dedupe_api_errors_total',
        help: 'Rejected /api requests, by reason.',
        labelNames: ['reason'],
        registers: [metricsRegistry],
      }),
  );

function reject(res: ServerResponse, status: number, reason: string, message: string): void {
  // reason: not-found, method, no-dedupe, too-large, bad-body, bad-name, save-rate, save-bytes, save-failed
  apiErrors().inc({ reason });
  log.warn('api request rejected', { reason, message });
  send(res, status, { error: message });
}

class BodyTooLarge extends UserError {
  constructor(message: string) {
    super(message, 1, 'too-large');
  }
}

/** The request body as text; a body over the limit is drained (not kept) and rejected once read. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES)
        reject(new BodyTooLarge(`request body: expected at most ${MAX_BODY_BYTES} bytes, got ${size}`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * Answers the request if its path starts with `/api/` and returns true; returns false otherwise so the
 * caller can route it elsewhere. `getDeduper` returns undefined while no dedupe session runs.
 */
export function handleDedupeApi(
  req: IncomingMessage,
  res: ServerResponse,
  getDeduper: () => StreamDeduper | undefined,
): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!url.pathname.startsWith('/api/')) return false;
  void route(url.pathname, req, res, getDeduper()).catch((err: unknown) => {
    log.error('api handler failed', { error: errorMessage(err) });
    // The cause may name server paths: it stays in the log.
    if (!res.headersSent) send(res, 500, { error: 'internal error (details in the run log)' });
  });
  return true;
}

async function route(
  pathname: string,
  req: IncomingMessage,
  res: ServerResponse,
  deduper: StreamDeduper | undefined,
): Promise<void> {
  const routes: Record<string, string> = { '/api/status': 'GET', '/api/uniques': 'GET', '/api/save': 'POST' };
  const method = routes[pathname];
  if (!method)
    return reject(
      res,
      404,
      'not-found',
      `${bounded(pathname)}: no such endpoint (expected /api/status, /api/uniques or /api/save)`,
    );
  if (req.method !== method)
    return reject(res, 405, 'method', `${bounded(req.method ?? '')} ${pathname}: expected ${method}`);
  if (!deduper)
    return reject(res, 409, 'no-dedupe', `${pathname}: this run does not dedupe (use --mode dedupe or both)`);
  if (pathname === '/api/status') return send(res, 200, deduper.status());
  if (pathname === '/api/uniques') return send(res, 200, { uniques: deduper.uniques() });

  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch (err) {
    if (err instanceof BodyTooLarge) return reject(res, 413, 'too-large', err.message);
    return reject(res, 400, 'bad-body', 'request body: expected JSON like {"name": "<order number>"}');
  }
  const fields = (body ?? {}) as { name?: unknown; saveAs?: unknown; frames?: unknown };
  const name = fields.name;
  if (fields.saveAs !== undefined && fields.saveAs !== 'images' && fields.saveAs !== 'video') {
    return reject(
      res,
      400,
      'bad-save-as',
      `saveAs ${JSON.stringify(fields.saveAs)}: expected "images" or "video"`,
    );
  }
  if (fields.frames !== undefined && fields.frames !== 'kept' && fields.frames !== 'all') {
    return reject(
      res,
      400,
      'bad-frames',
      `frames ${JSON.stringify(fields.frames)}: expected "kept" or "all"`,
    );
  }
  try {
    const result = await deduper.save(typeof name === 'number' ? String(name) : (name as string), {
      ...(fields.saveAs !== undefined ? { saveAs: fields.saveAs } : {}),
      ...(fields.frames !== undefined ? { frames: fields.frames } : {}),
    });
    send(res, 201, result);
  } catch (err) {
    if (err instanceof SaveRefused) {
      if (err.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(err.retryAfterSeconds));
      return reject(res, err.status, err.reason, err.message);
    }
    if (err instanceof UserError) {
      if (err.message.startsWith('save of all frames')) return reject(res, 409, 'not-retained', err.message);
      if (!err.message.startsWith('video')) return reject(res, 400, 'bad-name', err.message);
    }
    // The folder or the video could not be written (disk, ffmpeg): the request was fine, the run was not.
    log.error('save failed', { error: errorMessage(err) });
    return reject(
      res,
      500,
      'save-failed',
      'save failed: the run could not write the folder (details in the run log)',
    );
  }
}

/** Mounts the routes on the run's HTTP server; they answer 409 until a dedupe session runs. */
export function mountRunApi(http: HttpServer, getDeduper: () => StreamDeduper | undefined): void {
  http.prefix('/api/', (req, res) => {
    handleDedupeApi(req, res, getDeduper);
  });
}
