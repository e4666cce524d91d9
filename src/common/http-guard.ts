/**
 * Who may talk to a framesift port, decided in one place for every HTTP server and WebSocket upgrade
 * (the run's HTTP port with its API and web pages, the stream server's frame and control ports):
 *
 * - Host: only loopback names, the bound host and the hosts of the allowed origins are answered, so a
 *   DNS-rebinding page (a foreign name that resolves to 127.0.0.1) cannot read anything. A server bound
 *   to a wildcard address (0.0.0.0, ::) answers any Host; it is exposed on purpose and needs a token.
 * - Origin: a browser always sends it on cross-origin requests and on every WebSocket upgrade. A request
 *   that changes state, and every upgrade, must come from the same origin or an allowed one; a request
 *   without Origin is a non-browser client (the CLI, curl) and passes, unless its `Sec-Fetch-Site` says a
 *   browser sent it from another site.
 * - Content-Type: a JSON body must say `application/json`, which a cross-site form or `fetch` without a
 *   CORS preflight cannot send.
 * - Token: when one is configured, every upgrade and request must carry it (`Authorization: Bearer …`,
 *   or `?token=` for a browser's WebSocket, which cannot set headers).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bounded } from './text.js';

export interface AccessPolicy {
  /** Host names (no port, lower case, IPv6 without brackets) answered besides the loopback names. */
  hosts: ReadonlySet<string>;
  /** Origins (`scheme://host[:port]`, as `URL.origin` writes them) allowed besides the server's own. */
  origins: ReadonlySet<string>;
  /** Bound to a wildcard address: every Host is answered (the token is what protects the server). */
  anyHost: boolean;
  /** Shared secret every request must carry; undefined = none asked. */
  token?: string;
}

export interface AccessPolicyOptions {
  /** The address the server binds to (`--host`). */
  bindHost: string;
  /** Extra origins (`--allowed-origins`): comma-separated or a list. */
  allowedOrigins?: string | readonly string[];
  token?: string;
}

/** Why a request was refused; stable, used as a metric label and an error code. */
export type AccessRefusal = 'forbidden-host' | 'forbidden-origin' | 'unsupported-media-type' | 'unauthorized';

export type AccessVerdict =
  | { ok: true }
  | { ok: false; reason: AccessRefusal; status: 400 | 401 | 403 | 415; message: string };

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** `host` without brackets, lower case. */
function normalizeHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/** Loopback names: `localhost` and `*.localhost` (RFC 6761; browsers never resolve them elsewhere), 127/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = normalizeHost(host);
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    h === '::1' ||
    h === '0:0:0:0:0:0:0:1'
  );
}

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(normalizeHost(host));
}

/** Parses `--allowed-origins`; throws with the offending entry on one that is not an http(s) origin. */
export function parseOrigins(value: string | readonly string[] | undefined): string[] {
  const entries = typeof value === 'string' ? value.split(',') : (value ?? []);
  const out: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`${bounded(entry)}: expected an origin like http://host:port`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search) {
      throw new Error(`${bounded(entry)}: expected an origin like http://host:port (no path)`);
    }
    out.push(url.origin);
  }
  return out;
}

export function accessPolicy(options: AccessPolicyOptions): AccessPolicy {
  const origins = parseOrigins(options.allowedOrigins);
  const hosts = new Set<string>();
  if (!isWildcardHost(options.bindHost)) hosts.add(normalizeHost(options.bindHost));
  for (const origin of origins) hosts.add(normalizeHost(new URL(origin).hostname));
  return {
    hosts,
    origins: new Set(origins),
    anyHost: isWildcardHost(options.bindHost),
    ...(options.token ? { token: options.token } : {}),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The Host header's name without the port, or undefined when absent or unparsable. */
function hostNameOf(req: IncomingMessage): string | undefined {
  const host = header(req, 'host');
  if (!host) return undefined;
  try {
    return normalizeHost(new URL(`http://${host}`).hostname);
  } catch {
    return undefined;
  }
}

const refuse = (reason: AccessRefusal, status: 400 | 401 | 403 | 415, message: string): AccessVerdict => ({
  ok: false,
  reason,
  status,
  message,
});

export function checkHost(req: IncomingMessage, policy: AccessPolicy): AccessVerdict {
  if (policy.anyHost) return { ok: true };
  const name = hostNameOf(req);
  if (name !== undefined && (isLoopbackHost(name) || policy.hosts.has(name))) return { ok: true };
  return refuse(
    'forbidden-host',
    403,
    `Host ${JSON.stringify(bounded(header(req, 'host') ?? ''))} is not served here: expected a loopback name, the bound host or a host of --allowed-origins`,
  );
}

/**
 * Origin check: absent passes (not a browser) unless Sec-Fetch-Site names another site; otherwise it
 * must be the request's own origin (same scheme-less host:port as the Host header) or an allowed origin. `sameOriginPossible` is false on ports
 * that serve no pages (the WebSocket ports): there only allowed origins pass.
 */
export function checkOrigin(
  req: IncomingMessage,
  policy: AccessPolicy,
  sameOriginPossible = true,
): AccessVerdict {
  const origin = header(req, 'origin');
  if (origin === undefined) {
    // No Origin: a non-browser client, unless the browser still says the request is not its own page's
    // (Sec-Fetch-Site, sent by every current browser; same-origin and none = typed or bookmarked).
    const site = header(req, 'sec-fetch-site');
    if (site === undefined || site === 'same-origin' || site === 'none') return { ok: true };
    return refuse(
      'forbidden-origin',
      403,
      `a request from another site (Sec-Fetch-Site ${JSON.stringify(bounded(site))}) is not allowed: expected the same origin or one of --allowed-origins`,
    );
  }
  if (policy.origins.has(origin)) return { ok: true };
  if (sameOriginPossible && origin !== 'null') {
    try {
      const url = new URL(origin);
      const host = header(req, 'host');
      if ((url.protocol === 'http:' || url.protocol === 'https:') && host && url.host === host.toLowerCase())
        return { ok: true };
    } catch {
      // an unparsable Origin is a foreign one
    }
  }
  return refuse(
    'forbidden-origin',
    403,
    `Origin ${JSON.stringify(bounded(origin))} is not allowed: expected the same origin or one of --allowed-origins`,
  );
}

/** A JSON body must be declared `application/json` (a cross-site form cannot send that without a preflight). */
export function checkJsonContentType(req: IncomingMessage): AccessVerdict {
  const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return { ok: true };
  return refuse(
    'unsupported-media-type',
    415,
    `Content-Type ${JSON.stringify(bounded(type))}: expected application/json`,
  );
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** The token the request carries: `Authorization: Bearer <token>`, else the `token` query parameter. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization');
  const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (bearer) return bearer.trim();
  try {
    return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
  } catch {
    return undefined;
  }
}

export function checkToken(req: IncomingMessage, policy: AccessPolicy): AccessVerdict {
  if (!policy.token) return { ok: true };
  const given = tokenOf(req);
  // Compared as digests: constant time whatever the lengths.
  if (given !== undefined && timingSafeEqual(digest(given), digest(policy.token))) return { ok: true };
  return refuse(
    'unauthorized',
    401,
    given === undefined
      ? 'this server asks for a token: send Authorization: Bearer <token> (or ?token=)'
      : 'wrong token',
  );
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True when the request carries a body (a length above 0, or a chunked one). */
function hasBody(req: IncomingMessage): boolean {
  const length = header(req, 'content-length');
  if (length !== undefined) return Number(length) > 0;
  return header(req, 'transfer-encoding') !== undefined;
}

/**
 * The whole check of an HTTP request: Host, token, and for a state-changing method the Origin and, when
 * it carries a body, the JSON content type (unless `rawBody`: a route that takes an upload, such as an image).
 */
export function guardRequest(req: IncomingMessage, policy: AccessPolicy, rawBody = false): AccessVerdict {
  for (const verdict of [checkHost(req, policy), checkToken(req, policy)]) if (!verdict.ok) return verdict;
  if (SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) return { ok: true };
  const origin = checkOrigin(req, policy);
  if (!origin.ok) return origin;
  // A route that takes an upload (POST /api/search: an image) is still same-origin only.
  return hasBody(req) && !rawBody ? checkJsonContentType(req) : { ok: true };
}

/**
 * The check of a WebSocket upgrade: Host, Origin (every upgrade; `sameOriginPossible` false on a port
 * that serves no pages), token.
 */
export function guardUpgrade(
  req: IncomingMessage,
  policy: AccessPolicy,
  sameOriginPossible = false,
): AccessVerdict {
  for (const verdict of [
    checkHost(req, policy),
    checkOrigin(req, policy, sameOriginPossible),
    checkToken(req, policy),
  ])
    if (!verdict.ok) return verdict;
  return { ok: true };
}
