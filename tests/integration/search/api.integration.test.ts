/**
 * The search REST API and the demo page on a real HTTP server over a real index of the caltech-resize
 * photos (real embedder), and the page in a real Chromium (playwright-core, the system's chromium).
 */
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchBrowser } from '../../e2e/helpers.js';
import { indexInto } from '../../../src/commands/index-images.js';
import { startPhotoEmbedder, type PhotoEmbedder } from '../../../src/commands/photo-embedder.js';
import { mountSearchApi } from '../../../src/commands/search-api.js';
import { listImageFiles } from '../../../src/dedupe/index.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { startHttpServer, type HttpServer } from '../../../src/common/http.js';
import {
  AnnIndex,
  Searcher,
  computeNeighbours,
  indexFolder,
  openStore,
  type SearchStore,
} from '../../../src/search/index.js';
import { opencvVideo, skipVideoTests } from '../../helpers/video.js';

const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const skipVideo = skipVideoTests();
const MAX_UPLOAD = 120_000;

let tmp: string;
let store: SearchStore;
let embedder: PhotoEmbedder;
let server: HttpServer;
let idOf: Map<string, number>;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'framesift-api-'));
  embedder = await startPhotoEmbedder({ modelsDir: path.join(PROJECT_ROOT, 'models'), workers: 2 });
  store = await openStore(path.join(tmp, 'index.db'));
  await indexFolder(store, embedder, CALTECH, { listFiles: listImageFiles });
  idOf = new Map((await store.files()).map((f) => [path.basename(f.path), f.id]));
  server = await startHttpServer({ port: 0 });
  mountSearchApi(server, {
    searcher: new Searcher(store, path.join(tmp, 'index.db.hnsw')),
    embedder: async () => embedder,
    maxUploadBytes: MAX_UPLOAD,
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await embedder?.close();
  await store?.close();
  await rm(tmp, { recursive: true, force: true });
});

interface Reply {
  status: number;
  type: string;
  body: Buffer;
  json: () => Record<string, unknown> & { error?: string; code?: string };
}

function request(
  method: string,
  pathname: string,
  options: { body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: pathname, headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode!,
            type: String(res.headers['content-type']),
            body,
            json: () => JSON.parse(body.toString('utf8')) as ReturnType<Reply['json']>,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

type Hit = { id: number; distance: number; name: string; fileUrl: string };

describe('search API', () => {
  it('serves an image record, its file, its vector and its neighbours (itself first)', async () => {
    const name = 'b1b68a5e-0e0a-446d-90d8-a7c34a4c5a05.jpg';
    const file = (await readdir(CALTECH)).includes(name) ? name : [...idOf.keys()][0]!;
    const id = idOf.get(file)!;
    const record = await request('GET', `/api/images/${id}`);
    expect(record.status).toBe(200);
    expect(record.json()).toMatchObject({ id, name: file, fileUrl: `/api/images/${id}/file` });

    const bytes = await request('GET', `/api/images/${id}/file`);
    expect(bytes.status).toBe(200);
    expect(bytes.type).toBe('image/jpeg');
    expect(bytes.body.equals(await readFile(path.join(CALTECH, file)))).toBe(true);

    const vector = await request('GET', `/api/images/${id}/vector`);
    expect(vector.json()).toMatchObject({ id, model: 'mobilenet-v3-small-075', dimension: 1024 });
    expect((vector.json().vector as number[]).length).toBe(1024);

    const near = await request('GET', `/api/images/${id}/neighbours?k=5`);
    expect(near.status).toBe(200);
    const hits = near.json().neighbours as Hit[];
    expect(hits).toHaveLength(5);
    expect(hits[0]).toMatchObject({ id, distance: 0 });
    expect(near.json().source).toBe('ann');
  });

  it('answers from precomputed neighbour lists once they exist, with the same images', async () => {
    const id = [...idOf.values()][7]!;
    const live = (await request('GET', `/api/images/${id}/neighbours?k=6&exact=1`)).json();
    await computeNeighbours(store, await AnnIndex.open(store, path.join(tmp, 'index.db.hnsw')), { k: 10 });
    const stored = (await request('GET', `/api/images/${id}/neighbours?k=6`)).json();
    expect(stored.source).toBe('precomputed');
    expect((stored.neighbours as Hit[]).map((h) => h.id)).toEqual(
      (live.neighbours as Hit[]).map((h) => h.id),
    );
  });

  it('searches with an uploaded image: the same photo comes first at distance ~0', async () => {
    const file = [...idOf.keys()][3]!;
    const body = await readFile(path.join(CALTECH, file));
    const reply = await request('POST', '/api/search?k=3', {
      body,
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(reply.status).toBe(200);
    const json = reply.json();
    expect((json.hits as Hit[])[0]).toMatchObject({ id: idOf.get(file), name: file });
    expect((json.hits as Hit[])[0]!.distance).toBeLessThan(1e-5);
    expect((json.query as { vector: number[] }).vector).toHaveLength(1024);
  });

  it('refuses bad requests with JSON errors and stable codes', async () => {
    const cases: Array<[Promise<Reply>, number, string]> = [
      [request('GET', '/api/images/abc'), 400, 'bad-id'],
      [request('GET', '/api/images/999999'), 404, 'not-found'],
      [request('GET', '/api/images/1/neighbours?k=0'), 400, 'bad-k'],
      [request('GET', '/api/images/1/nothing'), 404, 'no-route'],
      [request('DELETE', '/api/images/1'), 405, 'method-not-allowed'],
      [request('GET', '/api/search'), 405, 'method-not-allowed'],
      [
        request('POST', '/api/search', {
          body: Buffer.from('hi'),
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'unsupported-media-type',
      ],
      [
        request('POST', '/api/search', { body: Buffer.alloc(0), headers: { 'content-type': 'image/jpeg' } }),
        400,
        'empty-upload',
      ],
      [
        request('POST', '/api/search', {
          body: Buffer.from('not an image at all'),
          headers: { 'content-type': 'image/jpeg' },
        }),
        422,
        'undecodable',
      ],
      [
        request('POST', '/api/search', {
          body: Buffer.alloc(MAX_UPLOAD + 1),
          headers: { 'content-type': 'image/png' },
        }),
        413,
        'too-large',
      ],
      [request('GET', '/api/images/1', { headers: { host: 'evil.example:80' } }), 403, 'forbidden-host'],
      [
        request('POST', '/api/search', {
          body: Buffer.from('x'),
          headers: { 'content-type': 'image/jpeg', origin: 'http://evil.example' },
        }),
        403,
        'forbidden-origin',
      ],
    ];
    for (const [reply, status, code] of cases) {
      const r = await reply;
      expect({ status: r.status, code: r.json().code }).toEqual({ status, code });
      expect(r.json().error).toMatch(/\S/);
      expect(r.type).toMatch(/^application\/json/);
    }
    const metrics = (await request('GET', '/metrics')).body.toString();
    expect(metrics).toMatch(/framesift_search_api_requests_total\{route="search",code="too-large"\} 1/);
  });
});

/** In the page: each image's naturalWidth once it has loaded (0 when it failed). */
const IMAGES_LOADED = `Promise.all([...document.images].map((img) =>
  img.complete ? img.naturalWidth : new Promise((resolve) => {
    img.addEventListener('load', () => resolve(img.naturalWidth), { once: true });
    img.addEventListener('error', () => resolve(0), { once: true });
  })))`;

describe.skipIf(chromiumMissing)('search demo page in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows an image, its 20 most similar (itself first), its vector; a click or a dropped file makes a new query', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const first = [...idOf.values()][10]!;
    await page.goto(`${server.url}/search#${first}`);
    const items = page.locator('#results li');
    await expect.poll(() => items.count()).toBe(20);
    await expect.poll(() => page.locator('#results li').first().getAttribute('data-id')).toBe(String(first));
    expect(await items.first().locator('.distance').textContent()).toBe('0.0000');
    expect(await items.first().getAttribute('class')).toContain('self');
    // The query image and every result image loaded (naturalWidth > 0).
    // (Browser code as strings: the tests compile without the DOM types.)
    // Waits for each image's load or error event; evaluate runs over the debugging protocol, so the page's
    // CSP (no eval) does not apply, as it does to waitForFunction's polling.
    const loaded = (await page.evaluate(IMAGES_LOADED)) as number[];
    expect(loaded.length).toBeGreaterThan(20);
    expect(loaded.every((width) => width > 0)).toBe(true);
    // The vector heat map: a 32×32 square with many different colours.
    const colours = (await page.evaluate(`(() => {
      const canvas = document.getElementById('vector');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const set = new Set();
      for (let i = 0; i < data.length; i += 4) set.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      return { size: canvas.width, distinct: set.size };
    })()`)) as { size: number; distinct: number };
    expect(colours.size).toBe(32);
    expect(colours.distinct).toBeGreaterThan(100);
    // Distances ascend.
    const distances = (await items.locator('.distance').allTextContents()).map(Number);
    expect([...distances].sort((a, b) => a - b)).toEqual(distances);

    if (process.env.FRAMESIFT_SEARCH_SCREENSHOT) {
      await page.screenshot({ path: process.env.FRAMESIFT_SEARCH_SCREENSHOT, fullPage: true });
    }

    // Click the third result: it becomes the query and comes first.
    const third = Number(await items.nth(2).getAttribute('data-id'));
    await items.nth(2).click();
    await expect.poll(() => page.locator('#results li').first().getAttribute('data-id')).toBe(String(third));
    expect(await page.locator('#query-title').textContent()).toContain(`#${third}`);

    // Pick a file: the same photo is found first at distance 0.
    const file = [...idOf.keys()][20]!;
    await page.setInputFiles('#file', path.join(CALTECH, file));
    await expect.poll(() => page.locator('#query-title').textContent()).toBe(file);
    await expect
      .poll(() => page.locator('#results li').first().getAttribute('data-id'))
      .toBe(String(idOf.get(file)));
    expect(await page.locator('#results li').first().locator('.distance').textContent()).toBe('0.0000');

    // Drop a file on the query image: the same, through a real drop event carrying the file.
    const dropped = [...idOf.keys()][30]!;
    const bytes = (await readFile(path.join(CALTECH, dropped))).toString('base64');
    const transfer = await page.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(bytes)}), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], ${JSON.stringify(dropped)}, { type: 'image/jpeg' }));
      return transfer;
    })()`);
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
    await expect.poll(() => page.locator('#query-title').textContent()).toBe(dropped);
    await expect
      .poll(() => page.locator('#results li').first().getAttribute('data-id'))
      .toBe(String(idOf.get(dropped)));
    expect(await page.locator('#results li').first().locator('.distance').textContent()).toBe('0.0000');

    // An unknown id shows the API's error on the page.
    await page.fill('#image-id', '999999');
    await page.click('#pick button');
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^not-found: image 999999/);
    expect(errors).toEqual([]);
    await page.close();
  });
  it.skipIf(skipVideo)(
    'shows video frames from the index: cut from the video, named and marked with their time',
    async () => {
      // An index of a street video (a frame every 20 s: 0, 20, 40, 60 s) and six photos.
      const dir = path.join(tmp, 'with-video');
      await mkdir(dir, { recursive: true });
      await copyFile(opencvVideo('vtest.avi'), path.join(dir, 'street.avi'));
      for (const f of [...idOf.keys()].slice(0, 6)) await copyFile(path.join(CALTECH, f), path.join(dir, f));
      const db = path.join(tmp, 'with-video.db');
      const report = await indexInto(dir, { db, every: 20 }, { embedder, quiet: true });
      expect(report).toMatchObject({ videos: 1, videoFrames: 4, total: 10 });
      const videoStore = await openStore(db);
      const videoServer = await startHttpServer({ port: 0 });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        mountSearchApi(videoServer, {
          searcher: new Searcher(videoStore, `${db}.hnsw`),
          embedder: async () => embedder,
          maxUploadBytes: MAX_UPLOAD,
        });
        const frames = (await videoStore.files()).filter((f) => f.video).sort((a, b) => a.id - b.id);
        expect(frames.map((f) => f.video!.timeMs)).toEqual([0, 20_000, 40_000, 60_000]);
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));

        await page.goto(`${videoServer.url}/search#${frames[1]!.id}`);
        const items = page.locator('#results li');
        await expect.poll(() => items.count()).toBe(10);
        expect(await page.locator('#query-title').textContent()).toBe(
          `#${frames[1]!.id} street.avi at 00:00:20`,
        );
        expect(await page.locator('#query-info').textContent()).toMatch(
          /^frame at 00:00:20 of the video \S+street\.avi, 768×576 \(video file \d+ KiB\)$/,
        );
        // The frame itself first, then the other three frames of the same street (nearer than any photo),
        // each marked with its time; the photos carry no mark.
        expect(await items.first().getAttribute('data-id')).toBe(String(frames[1]!.id));
        expect(await items.first().locator('.name').textContent()).toBe(
          `#${frames[1]!.id} street.avi at 00:00:20`,
        );
        const classes = await items.evaluateAll((lis) => lis.map((li) => li.className));
        expect(classes.slice(0, 4).every((c) => c.includes('video'))).toBe(true);
        expect(classes.slice(4).some((c) => c.includes('video'))).toBe(false);
        expect((await page.locator('#results .badge').allTextContents()).sort()).toEqual([
          '▶ 00:00:00',
          '▶ 00:00:20',
          '▶ 00:00:40',
          '▶ 00:01:00',
        ]);
        // Every picture loaded: the frames are cut from the video at full size, the photos are files.
        const widths = (await page.evaluate(IMAGES_LOADED)) as number[];
        expect(widths).toHaveLength(11);
        expect(widths.every((w) => w > 0)).toBe(true);
        expect(widths[0]).toBe(768);

        // A click on another frame makes it the query.
        const other = items.nth(1);
        const otherId = await other.getAttribute('data-id');
        const otherTime = (await other.locator('.badge').textContent())!.slice(2);
        await other.click();
        await expect.poll(() => items.first().getAttribute('data-id')).toBe(otherId);
        expect(await page.locator('#query-title').textContent()).toBe(
          `#${otherId} street.avi at ${otherTime}`,
        );

        if (process.env.FRAMESIFT_SEARCH_VIDEO_SCREENSHOT) {
          await page.screenshot({ path: process.env.FRAMESIFT_SEARCH_VIDEO_SCREENSHOT, fullPage: true });
        }
        expect(errors).toEqual([]);
      } finally {
        await page.close();
        await videoServer.close();
        await videoStore.close();
      }
    },
    180_000,
  );
});
