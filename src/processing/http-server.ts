/**
 * The run's HTTP server: `/metrics` (Prometheus text from the shared registry) and any routes a stage
 * mounts (`/api/...` of the dedupe stage). One line per route; unknown paths are 404 and a handler's
 * failure is a 500 with a one-line JSON error, never a crash.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { metricsRegistry } from '../common/metrics.js';

const log = loggerFor('http');

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
   * (it answers, including its own 404/405). Exact routes win over prefixes.
   */
  prefix(prefix: string, handler: RouteHandler): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  host?: string;
  /** 0 = any free port. */
  port: number;
  /** The flag that sets the port, named when it is taken (default --metrics-port). */
  portFlag?: string;
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
  routes.set('GET /metrics', async (_req, res) => {
    const body = await metricsRegistry.metrics();
    res.writeHead(200, { 'content-type': metricsRegistry.contentType });
    res.end(body);
  });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
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
          error: `${req.method} ${url.pathname}: expected ${allowed.map((k) => k.split(' ')[0]).join(' or ')}`,
        });
      } else {
        sendJson(res, 404, { error: `${url.pathname}: no such endpoint` });
      }
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((err: unknown) => {
        const status = err instanceof UserError ? 400 : 500;
        log.warn('http handler failed', { path: url.pathname, status, error: errorMessage(err) });
        if (!res.headersSent) sendJson(res, status, { error: errorMessage(err) });
        else res.end();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          `cannot serve HTTP on ${host}:${options.port} (${err.code ?? err.message}): choose another ${options.portFlag ?? '--metrics-port'} (0 = any free port)`,
        ),
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
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
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
