/**
 * HTTP helpers shared by the stream server's ports and the run's HTTP port: listening with a one-line
 * error, closing, JSON replies, Prometheus `/metrics`, and a small router (`startHttpServer`): one line
 * per route; unknown paths are 404 and a handler's failure is a 500 with a one-line JSON error, never a
 * crash.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError, errorMessage } from './errors.js';
import { accessPolicy, guardRequest, type AccessPolicy } from './http-guard.js';
import { loggerFor } from './logger.js';
import { metric, metricsRegistry, prom } from './metrics.js';
import { bounded } from './text.js';

const log = loggerFor('common.http');

const refused = () =>
  metric(
    'framesift_http_refused_total',
    () =>
      new prom.Counter({
        name: 'framesift_http_refused_total',
        help: "Requests the run's HTTP port refused before routing, by reason (forbidden-host, forbidden-origin, unsupported-media-type, unauthorized).",
        labelNames: ['reason'],
        registers: [metricsRegistry],
      }),
  );

export type RouteHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
) => void | Promise<void>;

export interface HttpServer {
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** Mounts `handler` on `method path` (exact path match); a later mount of the same route replaces it. */
  route(method: string, path: string, handler: RouteHandler): void;
  /**
   * Mounts `handler` on every path under `prefix` (any method), for a stage that routes its own requests
   * (it answers, including its own 404/405). Exact routes win over prefixes; the longest prefix wins.
   */
  prefix(prefix: string, handler: RouteHandler): void;
  /** Lets `method path` (exact path) take a non-JSON body, e.g. an image upload; Host/Origin still apply. */
  acceptUpload(method: string, path: string): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  host?: string;
  /** 0 = any free port. */
  port: number;
  /**
   * Who may talk to this port (src/common/http-guard.ts); default: loopback and the bound host, same
   * origin only, no token. Every request is checked before it reaches a route.
   */
  access?: AccessPolicy;
  /** Names the server in a listen error (default "the metrics server"). */
  what?: string;
  /** What to do about a listen error (default: choose another --metrics-port). */
  hint?: string;
}

/**
 * Listens on `host:port` and resolves with the port bound (0 = any free port). A failure is a one-line
 * UserError: "<what> cannot listen on host:port (EADDRINUSE)[: hint]".
 */
export function listen(
  server: http.Server,
  port: number,
  host: string,
  what: string,
  hint?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const because = err.code ?? errorMessage(err);
      reject(
        new UserError(`${what} cannot listen on ${host}:${port} (${because})${hint ? `: ${hint}` : ''}`),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes `server`, cutting its open connections. */
export function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Answers with the Prometheus text of the shared registry. */
export function serveMetrics(res: http.ServerResponse): void {
  metricsRegistry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
    (err: unknown) => res.writeHead(500).end(errorMessage(err)),
  );
}

/** Sends `body` as JSON with `status`. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '127.0.0.1';
  const routes = new Map<string, RouteHandler>();
  const prefixes = new Map<string, RouteHandler>();
  const uploads = new Set<string>();
  routes.set('GET /metrics', (_req, res) => serveMetrics(res));

  const access = options.access ?? accessPolicy({ bindHost: host });

  const server = http.createServer((req, res) => {
    const upload = uploads.has(`${(req.method ?? 'GET').toUpperCase()} ${(req.url ?? '/').split('?')[0]}`);
    const verdict = guardRequest(req, access, upload);
    if (!verdict.ok) {
      refused().inc({ reason: verdict.reason });
      log.warn('http request refused', {
        reason: verdict.reason,
        method: req.method,
        detail: verdict.message,
      });
      sendJson(res, verdict.status, { error: verdict.message, code: verdict.reason });
      // The body is not read: close the connection rather than drain an unwanted upload.
      req.resume();
      return;
    }
    // The Host header was checked above; the URL is parsed against our own address.
    const url = new URL(req.url ?? '/', `http://127.0.0.1`);
    const handler =
      routes.get(`${req.method ?? 'GET'} ${url.pathname}`) ??
      // The longest matching prefix wins (a stage's /api/images/ before another's /api/).
      [...prefixes]
        .filter(([prefix]) => url.pathname.startsWith(prefix))
        .sort((a, b) => b[0].length - a[0].length)[0]?.[1];
    if (!handler) {
      const allowed = [...routes.keys()].filter((key) => key.endsWith(` ${url.pathname}`));
      if (allowed.length > 0) {
        sendJson(res, 405, {
          error: `${bounded(req.method ?? '')} ${bounded(url.pathname)}: expected ${allowed.map((k) => k.split(' ')[0]).join(' or ')}`,
        });
      } else {
        sendJson(res, 404, { error: `${bounded(url.pathname)}: no such endpoint` });
      }
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((err: unknown) => {
        const status = err instanceof UserError ? 400 : 500;
        log.warn('http handler failed', { path: url.pathname, status, error: errorMessage(err) });
        // A user error's message names the input; anything else may hold server paths: not sent.
        const message = status === 400 ? errorMessage(err) : 'internal error (details in the run log)';
        if (!res.headersSent) sendJson(res, status, { error: message });
        else res.end();
      });
  });

  const port = await listen(
    server,
    options.port,
    host,
    options.what ?? 'the metrics server',
    options.hint ?? 'choose another --metrics-port (0 = any free port)',
  );
  log.info('metrics and API listening', { url: `http://${host}:${port}/metrics` });

  return {
    port,
    url: `http://${host}:${port}`,
    route(method, path, handler) {
      routes.set(`${method.toUpperCase()} ${path}`, handler);
    },
    prefix(prefix, handler) {
      prefixes.set(prefix, handler);
    },
    acceptUpload(method, path) {
      uploads.add(`${method.toUpperCase()} ${path}`);
    },
    close() {
      return closeHttp(server);
    },
  };
}
