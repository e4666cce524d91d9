import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamDeduper } from '../../../src/dedupe/index.js';
import { type UniquesManifest } from '../../../src/dedupe/save.js';
import { handleDedupeApi } from '../../../src/commands/run/api-routes.js';

let out: string;
let url: string;
let server: http.Server;
let deduper: StreamDeduper | undefined;

beforeAll(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'framesift-api-'));
  server = http.createServer((req, res) => {
    if (!handleDedupeApi(req, res, () => deduper)) {
      res.writeHead(200);
      res.end('not api');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(out, { recursive: true, force: true });
});

const post = (body: string) =>
  fetch(`${url}/api/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('/api routes', () => {
  it('answers 409 while no dedupe session runs, and leaves other paths to the caller', async () => {
    deduper = undefined;
    const r = await fetch(`${url}/api/status`);
    expect(r.status).toBe(409);
    expect(((await r.json()) as { error: string }).error).toMatch(/does not dedupe/);
    expect(await (await fetch(`${url}/metrics`)).text()).toBe('not api');
  });

  it('serves status and uniques, saves by order number, rejects bad requests with a clear message', async () => {
    deduper = new StreamDeduper({
      method: 'phash',
      metric: 'cosine',
      threshold: 2,
      approximateAbove: 0,
      outDir: out,
      imageSaveQuality: 95,
      model: null,
    });
    const gray = { width: 2, height: 1, channels: 1, encoding: 0 as const, data: Uint8Array.of(0, 255) };
    deduper.accept({ streamId: 'cam-1', seq: 0, feature: { kind: 'hash', hash: 0n }, image: gray });
    deduper.accept({ streamId: 'cam-1', seq: 1, feature: { kind: 'hash', hash: 3n }, image: gray });
    deduper.accept({ streamId: 'cam-2', seq: 0, feature: { kind: 'hash', hash: 0n }, image: gray });

    const status = (await (await fetch(`${url}/api/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ method: 'phash', threshold: 2, frames: 3, uniques: 2, duplicates: 1 });
    const uniques = (await (await fetch(`${url}/api/uniques`)).json()) as { uniques: unknown[] };
    expect(uniques.uniques).toEqual([
      { streamId: 'cam-1', seq: 0, width: 2, height: 1, duplicates: 1, keptAt: expect.any(Number) },
      { streamId: 'cam-2', seq: 0, width: 2, height: 1, duplicates: 0, keptAt: expect.any(Number) },
    ]);

    const saved = await post(JSON.stringify({ name: 815 }));
    expect(saved.status).toBe(201);
    const body = (await saved.json()) as { folder: string; uniques: number; duplicates: number };
    expect(body).toMatchObject({ name: '815', uniques: 2, duplicates: 1 });
    const manifest = JSON.parse(
      await readFile(path.join(body.folder, 'manifest.json'), 'utf8'),
    ) as UniquesManifest;
    expect(manifest.streams.map((s) => [s.streamId, s.uniques.length, s.duplicates.length])).toEqual([
      ['cam-1', 1, 1],
      ['cam-2', 1, 0],
    ]);

    const cases: Array<[Promise<Response>, number, RegExp]> = [
      [post('{not json'), 400, /expected JSON/],
      [post(JSON.stringify({ name: 'a/b' })), 400, /path separators/],
      [post(JSON.stringify({ name: 'x'.repeat(300) })), 400, /at most 100 characters/],
      [post('x'.repeat(70_000)), 413, /at most 65536 bytes/],
      [fetch(`${url}/api/save`), 405, /expected POST/],
      [fetch(`${url}/api/nothing`), 404, /no such endpoint/],
    ];
    for (const [request, status, message] of cases) {
      const response = await request;
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: string }).error).toMatch(message);
    }
    // Still serving after the bad requests.
    expect((await fetch(`${url}/api/status`)).status).toBe(200);
  });
});
