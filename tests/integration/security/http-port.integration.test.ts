/**
 * The run's HTTP port as a hostile web page or an unlucky user meets it: foreign Host (DNS rebinding),
 * foreign Origin and text/plain bodies (CSRF without a preflight), save floods (rate and disk bytes),
 * bad save names (no server paths in any error). Real server on an ephemeral loopback port, real
 * StreamDeduper writing real photos.
 */
import http from 'node:http';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessPolicy } from '../../../src/common/http-guard.js';
import { metricsRegistry } from '../../../src/common/metrics.js';
import { mountRunApi } from '../../../src/commands/run/api-routes.js';
import { startHttpServer, type HttpServer } from '../../../src/common/http.js';
import { StreamDeduper } from '../../../src/dedupe/index.js';

const PHOTO = path.resolve('tests/fixtures/photos/imagehash/forest/forest-high.jpg');
const OTHER = path.resolve('tests/fixtures/photos/imagehash/office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg');

let out: string;
let server: HttpServer;

interface Answer {
  status: number;
  body: { error?: string; code?: string; [key: string]: unknown };
  headers: http.IncomingHttpHeaders;
}

/** A raw request (fetch cannot set Host), answering status and parsed JSON body. */
function request(
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: pathname,
        headers: { ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Answer['body'] = {};
          try {
            parsed = JSON.parse(text) as Answer['body'];
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const json = { 'content-type': 'application/json' };
const save = (name: unknown, headers: Record<string, string> = json) =>
  request('POST', '/api/save', headers, JSON.stringify({ name }));

async function refusals(reason: string): Promise<number> {
  const m = await metricsRegistry.getSingleMetric('framesift_http_refused_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

async function start(options: { savesPerMinute?: number; maxSaveBytes?: number; origins?: string } = {}) {
  const deduper = new StreamDeduper({
    method: 'phash',
    metric: 'cosine',
    threshold: 4,
    approximateAbove: 0,
    outDir: out,
    imageSaveQuality: 90,
    model: null,
    ...(options.savesPerMinute !== undefined ? { savesPerMinute: options.savesPerMinute } : {}),
    ...(options.maxSaveBytes !== undefined ? { maxSaveBytes: options.maxSaveBytes } : {}),
  });
  const [a, b] = await Promise.all([readFile(PHOTO), readFile(OTHER)]);
  deduper.accept({
    streamId: 'cam',
    seq: 0,
    feature: { kind: 'hash', hash: 0n },
    image: { width: 1, height: 1, channels: 3, encoding: 1, data: a },
  });
  deduper.accept({
    streamId: 'cam',
    seq: 1,
    feature: { kind: 'hash', hash: (1n << 64n) - 1n },
    image: { width: 1, height: 1, channels: 3, encoding: 1, data: b },
  });
  server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    access: accessPolicy({ bindHost: '127.0.0.1', allowedOrigins: options.origins }),
  });
  mountRunApi(server, () => deduper);
  return { deduper, bytes: a.length + b.length };
}

beforeEach(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'framesift-http-sec-'));
});
afterEach(async () => {
  await server?.close();
  await rm(out, { recursive: true, force: true });
});

describe("the run's HTTP port refuses what a foreign web page sends", () => {
  it('answers only loopback Host names: a rebinding name gets 403 on /metrics and /api/*', async () => {
    await start();
    const before = await refusals('forbidden-host');
    for (const target of ['/metrics', '/api/status', '/api/uniques']) {
      const foreign = await request('GET', target, { host: `attacker.example:${new URL(server.url).port}` });
      expect(foreign.status, target).toBe(403);
      expect(foreign.body.code).toBe('forbidden-host');
      expect(JSON.stringify(foreign.body)).not.toContain('framesift_');
    }
    expect(await refusals('forbidden-host')).toBe(before + 3);
    for (const host of ['127.0.0.1', 'localhost', '[::1]', 'app.localhost']) {
      const ok = await request('GET', '/api/status', { host: `${host}:${new URL(server.url).port}` });
      expect(ok.status, host).toBe(200);
    }
  });

  it('refuses a cross-site save: foreign Origin 403, text/plain 415; nothing written', async () => {
    await start();
    const foreign = await save('4711', { ...json, origin: 'http://attacker.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('forbidden-origin');
    // The CSRF form/fetch without preflight: a text/plain body that is valid JSON.
    const plain = await save('4711', { 'content-type': 'text/plain', origin: server.url });
    expect(plain.status).toBe(415);
    expect(plain.body.code).toBe('unsupported-media-type');
    const none = await save('4711', {});
    expect(none.status).toBe(415);
    const nullOrigin = await save('4711', { ...json, origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    // No Origin, but the browser says another site sent it (Sec-Fetch-Site): refused as well.
    for (const site of ['cross-site', 'same-site']) {
      const other = await save('4711', { ...json, 'sec-fetch-site': site });
      expect(other.status, site).toBe(403);
      expect(other.body.code).toBe('forbidden-origin');
    }
    await expect(readdir(out)).resolves.toEqual([]);
  });

  it('accepts a same-origin save, a save without Origin (CLI, curl) and an allowed origin', async () => {
    await start({ origins: 'http://app.example:8080' });
    expect((await save('a', { ...json, origin: server.url })).status).toBe(201);
    expect((await save('b')).status).toBe(201);
    expect((await save('b2', { ...json, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await save('c', { ...json, origin: 'http://app.example:8080' })).status).toBe(201);
    // An allowed origin's host is also an answered Host (a reverse proxy in front of the run).
    expect((await request('GET', '/api/status', { host: 'app.example:8080' })).status).toBe(200);
    expect((await readdir(path.join(out, 'uniques'))).sort()).toEqual(['a', 'b', 'b2', 'c']);
  });
});

describe('saves are limited in rate and in bytes under --out', () => {
  it('answers 429 with Retry-After past --save-rate, and counts it', async () => {
    await start({ savesPerMinute: 2 });
    expect((await save('1')).status).toBe(201);
    expect((await save('2')).status).toBe(201);
    const third = await save('3');
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(third.body.error).toMatch(/at most 2 saves a minute/);
    expect((await readdir(path.join(out, 'uniques'))).sort()).toEqual(['1', '2']);
  });

  it('answers 507 when a save would pass --max-save-bytes, and leaves no partial folder', async () => {
    const { bytes } = await start({ maxSaveBytes: 1 });
    const refused = await save('big');
    expect(refused.status).toBe(507);
    expect(refused.body.error).toMatch(/--max-save-bytes/);
    expect(refused.body.error).not.toContain(out);
    await expect(readdir(path.join(out, 'uniques'))).resolves.toEqual([]);
    await server.close();
    // Room for exactly one save (images + manifest): the first fits, the second is refused.
    await start({ maxSaveBytes: bytes + 4096 });
    expect((await save('one')).status).toBe(201);
    const over = await save('two');
    expect(over.status).toBe(507);
    expect(await readdir(path.join(out, 'uniques'))).toEqual(['one']);
  });
});

describe('save names', () => {
  it.each([
    ['300 bytes of Unicode', '€'.repeat(100), /200 UTF-8 bytes/],
    ['a bidi override', 'invoice\u202Egpj', /bidi/],
    ['a control character', 'a\u0007b', /control characters/],
    ['a path', '../../etc', /not allowed/],
  ])('rejects %s with 400 and no server path', async (_what, name, message) => {
    await start();
    const answer = await save(name);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect(answer.body.error).not.toContain(out);
    expect(answer.body.error).not.toContain(tmpdir());
    expect(answer.body.error).not.toContain('\u202E');
    expect(answer.body.error).not.toContain('\u0007');
  });
});
