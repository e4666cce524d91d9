// Seeded generators of hostile input for the three ports (control, frames, the run's HTTP API). The same
// seed gives the same sequence, so a failure found by `npm run bench -- fuzz` or the fuzz test reproduces.

import { seededRandom } from '../../dist/common/random.js';

/** A seeded generator with the helpers the corpus draws with. */
export function prng(seed) {
  const next = seededRandom(seed);
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

/** A session-id-shaped string from the seeded generator (never a live session's id). */
function uuid(r) {
  const hex = (n) => Array.from({ length: n }, () => r.int(0, 15).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
}

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\u202Eevil',
  '\uD800',
  '😀'.repeat(10),
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '%00',
  'null',
  '{"type":"start"}',
];

function weirdString(r) {
  switch (r.int(0, 4)) {
    case 0:
      return r.pick(WEIRD_STRINGS);
    case 1:
      return 'x'.repeat(r.int(1, 200));
    case 2:
      return 's'.repeat(r.int(10_000, 100_000)); // the 100 KB session id
    case 3:
      return String.fromCharCode(...Array.from({ length: r.int(1, 40) }, () => r.int(0, 0xffff)));
    default:
      return uuid(r);
  }
}

function weirdValue(r, depth = 0) {
  switch (r.int(0, depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return r.pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 32]);
    case 2:
      return r.chance(0.5);
    case 3:
      return weirdString(r);
    case 4:
      return r.pick([NaN, Infinity]).toString();
    case 5:
      return [];
    case 6:
      return Array.from({ length: r.int(0, 5) }, () => weirdValue(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: r.int(0, 5) }, () => [weirdString(r).slice(0, 20), weirdValue(r, depth + 1)]),
      );
  }
}

/** `depth` nested arrays or objects around a value, as JSON text (built without recursion). */
export function nested(depth, kind = 'array') {
  return kind === 'array'
    ? '['.repeat(depth) + '1' + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A plausible results document for `sessionId` (the server validates the real schema). */
function resultsFor(r, sessionId) {
  const base = {
    schemaVersion: 1,
    sessionId,
    counts: { sent: r.int(0, 5), received: r.int(0, 5), processed: r.int(0, 5) },
  };
  switch (r.int(0, 3)) {
    case 0:
      return base;
    case 1:
      return { ...base, deep: JSON.parse(nested(r.int(10, 200))) };
    case 2:
      return { ...base, predictions: Array.from({ length: r.int(0, 1000) }, (_, i) => [i, r.int(0, 9)]) };
    default:
      return weirdValue(r);
  }
}

/**
 * One control-port message: text (usually JSON) or a Buffer (binary). `ctx.own` holds this connection's
 * session ids, `ctx.others` ids of other connections' sessions, `ctx.sources` the offered sources.
 */
export function controlMessage(r, ctx) {
  const someId = () =>
    r.pick([
      () => r.pick(ctx.own.length ? ctx.own : [uuid(r)]),
      () => r.pick(ctx.others.length ? ctx.others : [uuid(r)]),
      () => weirdString(r),
      () => uuid(r),
    ])();
  switch (r.int(0, 15)) {
    case 0:
    case 1:
      return JSON.stringify({
        type: 'start',
        ...(r.chance(0.8) ? { count: r.pick([1, 2, 3, 5, 0, -1, 1.5, 1e9, 'x']) } : {}),
        ...(r.chance(0.8) ? { fps: r.pick([0, 0, 500, 1000, -1, 1e9, 'fast']) } : {}),
        ...(r.chance(0.5) ? { source: r.chance(0.7) ? r.pick(ctx.sources) : weirdString(r) } : {}),
      });
    case 2:
    case 3:
      return JSON.stringify({ type: 'stop', sessionId: someId() });
    case 4:
      return JSON.stringify({ type: 'status' });
    case 5:
    case 6: {
      const sessionId = someId();
      return JSON.stringify({ type: 'submit', sessionId, results: resultsFor(r, sessionId) });
    }
    case 7:
      return `{"type":"submit","sessionId":"${r.pick(ctx.own.length ? ctx.own : ['x'])}","results":${nested(r.int(1000, 20_000), r.pick(['array', 'object']))}}`;
    case 8:
      return nested(r.int(1000, 20_000));
    case 9:
      return r.pick(['', 'not json', '{', '{"type":', 'null', '[]', '42', '"start"', '\u0000\u0001']);
    case 10:
      return JSON.stringify({ type: weirdValue(r) });
    case 11:
      return JSON.stringify({ type: weirdString(r) });
    case 12:
      return Buffer.from(Array.from({ length: r.int(0, 64) }, () => r.int(0, 255)));
    case 13:
      return JSON.stringify({ type: r.pick(['start', 'stop', 'status', 'submit']), ...weirdValue(r) });
    case 14:
      return JSON.stringify({ type: 'stop', sessionId: weirdValue(r) });
    default:
      return JSON.stringify(weirdValue(r));
  }
}

/** URL-encodes any string, lone surrogates included (as the replacement character). */
const encode = (text) =>
  encodeURIComponent(text.toWellFormed?.() ?? text.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));

/** A frame-port connection attempt: the request path and what to do once open. */
export function frameAttempt(r, ctx) {
  const query = r.pick([
    () => `/?session=${encode(r.pick(ctx.own.length ? ctx.own : [uuid(r)]))}`,
    () => `/?session=${encode(r.pick(ctx.others.length ? ctx.others : [uuid(r)]))}`,
    () => `/?session=${encode(weirdString(r).slice(0, 4000))}`,
    () => '/',
    () => `/?session=${uuid(r)}&session=${uuid(r)}`,
    () => '/%%%?session=%zz',
  ])();
  return {
    path: query,
    // After open: read every frame, cut after a few, or send junk on the socket.
    action: r.pick(['read', 'read', 'cut', 'junk-text', 'junk-binary']),
    cutAfter: r.int(0, 3),
  };
}

/** What an HTTP client can put in a header: printable ASCII (others become `?`). */
const headerSafe = (text) => text.replace(/[^\x21-\x7e]/g, '?');

const HTTP_PATHS = [
  '/metrics',
  '/api/status',
  '/api/uniques',
  '/api/save',
  '/api/save',
  '/api/nope',
  '/',
  '/api/',
];

/** One HTTP request to the run's port: method, path, headers and body chosen to probe the guard and API. */
export function httpRequest(r, ctx) {
  const method = r.pick(['GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD']);
  const headers = {};
  const host = r.pick([
    `127.0.0.1:${ctx.port}`,
    `localhost:${ctx.port}`,
    'attacker.example',
    `rebind.attacker.example:${ctx.port}`,
    '',
    '[::1]',
    headerSafe(weirdString(r).slice(0, 300)),
  ]);
  if (host) headers.host = host;
  if (r.chance(0.5))
    headers.origin = r.pick([
      `http://127.0.0.1:${ctx.port}`,
      'http://attacker.example',
      'null',
      headerSafe(weirdString(r).slice(0, 300)),
    ]);
  if (r.chance(0.7))
    headers['content-type'] = r.pick([
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-8',
    ]);
  let body;
  if (method === 'POST' || method === 'PUT') {
    body = r.pick([
      () => JSON.stringify({ name: r.pick(['4711', 'order 12', weirdString(r)]) }),
      () => JSON.stringify({ name: '€'.repeat(r.int(60, 120)) }),
      () => JSON.stringify(weirdValue(r)),
      () => 'name=4711',
      () => nested(r.int(100, 5000)),
      () => 'x'.repeat(r.int(60_000, 80_000)),
    ])();
  }
  const path = r.pick(HTTP_PATHS) + (r.chance(0.1) ? `?q=${encode(weirdString(r).slice(0, 100))}` : '');
  return { method, path, headers, body };
}
