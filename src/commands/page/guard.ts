/**
 * The one check in front of every state-changing request of the live page (threshold, rate, settings,
 * start, stop, save): the request must name this server in `Host` (a loopback name or the bound host),
 * come from this page's own origin when the browser says where it comes from (`Origin`,
 * `Sec-Fetch-Site`), and carry a JSON body (`Content-Type: application/json`, which a cross-site form or
 * no-preflight fetch cannot send). Kept in one small function so a shared guard can replace it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metric, metricsRegistry, prom } from '../../common/metrics.js';
import { loggerFor } from '../../common/logger.js';
import { sendJson } from '../../common/http.js';

const log = loggerFor('page');

const refused = () =>
  metric(
    'framesift_page_requests_refused_total',
    () =>
      new prom.Counter({
        name: 'framesift_page_requests_refused_total',
        help: 'State-changing page requests refused, by reason (host, origin, content-type).',
        labelNames: ['reason'],
        registers: [metricsRegistry],
      }),
  );

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function hostName(hostHeader: string): string {
  // "[::1]:8080" → "[::1]", "localhost:8080" → "localhost"
  return hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.split(':')[0]!;
}

/** Answers 403 and returns true when `Host` names another server (DNS rebinding); false otherwise. */
export function refuseForeignHost(req: IncomingMessage, res: ServerResponse, boundHost: string): boolean {
  const host = req.headers.host ?? '';
  const name = hostName(host);
  if (LOOPBACK_NAMES.has(name) || name === boundHost) return false;
  refused().inc({ reason: 'host' });
  log.warn('page request refused', { reason: 'host', path: req.url?.slice(0, 200) });
  sendJson(res, 403, { error: `Host "${host.slice(0, 100)}": expected this server's own address` });
  return true;
}

/**
 * Answers 403/415 and returns true when the request must be refused; returns false when it may go on.
 * `boundHost` is the address the HTTP server listens on (allowed in `Host` besides loopback names).
 */
export function refuseForeignRequest(req: IncomingMessage, res: ServerResponse, boundHost: string): boolean {
  const refuse = (status: number, reason: string, message: string): true => {
    refused().inc({ reason });
    log.warn('page request refused', { reason, path: req.url?.slice(0, 200) });
    sendJson(res, status, { error: message });
    return true;
  };
  if (refuseForeignHost(req, res, boundHost)) return true;
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) {
    return refuse(403, 'origin', `Origin "${origin.slice(0, 100)}": expected this page's own origin`);
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return refuse(403, 'origin', `request from another site (${String(site).slice(0, 40)}) refused`);
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return refuse(415, 'content-type', 'expected a JSON body (Content-Type: application/json)');
  }
  return false;
}
