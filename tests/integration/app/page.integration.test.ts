/**
 * The live page's server side on a real `run` (dedupe over a folder of real photos): the Server-Sent
 * Events stream (page options, state, gallery, display-size JPEG frames), a tab that stops reading never
 * holds the pipeline back (once its socket is full its stale updates are dropped and counted), and state-changing requests from another origin, host or without a JSON body are refused.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineResult } from '../../../src/commands/run.js';
import { FASHION_MNIST_CLASSES } from '../../../src/common/fashion-mnist-classes.js';
import { metricsRegistry } from '../../../src/common/metrics.js';
import type { HttpServer } from '../../../src/common/http.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';

const IMAGEHASH = path.resolve('tests/fixtures/photos/imagehash');
const PASSES = 12;
const FRAMES = PASSES * 24;

let dir: string;
let frames: string;
let server: StreamServer;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-page-'));
  frames = path.join(dir, 'frames');
  await mkdir(frames);
  // The imagehash photos (up to 1280 px) 12 times over: big display frames fill a stalled tab's socket.
  let n = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    for (const sub of ['forest', 'office', 'orientation']) {
      for (const file of (await readdir(path.join(IMAGEHASH, sub))).sort()) {
        await copyFile(
          path.join(IMAGEHASH, sub, file),
          path.join(frames, `${String(n++).padStart(3, '0')}.jpg`),
        );
      }
    }
  }
  server = await startStreamServer({
    framesPort: 0,
    controlPort: 0,
    source: frames,
    resultsDir: path.join(dir, 'server'),
  });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

interface SseEvent {
  event: string;
  data: string;
}

/** A plain SSE reader over node:http (what a browser tab does, without the browser). */
function subscribe(url: string): {
  events: SseEvent[];
  req: http.ClientRequest;
  res: Promise<http.IncomingMessage>;
} {
  const events: SseEvent[] = [];
  let buffer = '';
  const req = http.get(`${url}/api/events`);
  const res = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
      });
      resolve(response);
    });
    req.on('error', reject);
  });
  return { events, req, res };
}

function request(
  url: string,
  method: string,
  pathname: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${pathname}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function droppedUpdates(): Promise<number> {
  const metric = metricsRegistry.getSingleMetric('framesift_page_view_updates_total');
  const values = metric ? (await metric.get()).values : [];
  return values.find((v) => v.labels.outcome === 'dropped')?.value ?? 0;
}

const waitFor = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((r) => setImmediate(r));
};

describe('live page on a run', () => {
  it('pushes state, gallery and display-size frames; a stalled tab holds nothing back: its stale updates are dropped', async () => {
    let httpServer: HttpServer | undefined;
    let url = '';
    let fast: ReturnType<typeof subscribe> | undefined;
    let stalled: ReturnType<typeof subscribe> | undefined;
    const run: Promise<PipelineResult> = runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        modelsDir: process.env.MODELS_DIR ?? 'models',
        out: path.join(dir, 'out'),
        source: frames,
        fps: 80,
        loopUpdateTime: 0.02,
        mode: 'dedupe',
        method: 'phash',
        workers: 1,
        batchSize: 1,
        imageDisplayWidth: 1280,
        title: 'Packing line 3',
      },
      {
        onMetricsServer: (s) => {
          httpServer = s;
          url = s.url;
          fast = subscribe(url);
          // This tab stops reading: once the kernel's socket buffers (a few MB) are full, its updates must
          // be dropped, and the pipeline must not care.
          stalled = subscribe(url);
          void stalled.res.then((res) => res.pause());
        },
        onProgress: () => undefined,
      },
    );
    await waitFor(() => httpServer !== undefined);
    const droppedBefore = await droppedUpdates();
    const events = fast!.events;
    await waitFor(() => events.some((e) => e.event === 'frame'));
    const page = JSON.parse(events[0]!.data) as Record<string, unknown>;
    expect(events[0]!.event).toBe('page');
    expect(page).toMatchObject({ title: 'Packing line 3', imageDisplayWidth: 1280, canStart: false });

    // The guard: state-changing requests only from this page's origin, for this host, with JSON.
    const host = new URL(url).host;
    const json = JSON.stringify({ threshold: 20 });
    const foreignOrigin = await request(
      url,
      'POST',
      '/api/threshold',
      {
        'content-type': 'application/json',
        origin: 'http://evil.example',
      },
      json,
    );
    expect(foreignOrigin.status).toBe(403);
    const crossSite = await request(
      url,
      'POST',
      '/api/stop',
      { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      '{}',
    );
    expect(crossSite.status).toBe(403);
    const textPlain = await request(
      url,
      'POST',
      '/api/save',
      { 'content-type': 'text/plain' },
      '{"name":"x"}',
    );
    expect(textPlain.status).toBe(415);
    const foreignHost = await request(url, 'GET', '/api/state', { host: 'evil.example' });
    expect(foreignHost.status).toBe(403);
    const ok = await request(
      url,
      'POST',
      '/api/threshold',
      { 'content-type': 'application/json', origin: `http://${host}` },
      json,
    );
    expect(ok).toEqual({ status: 200, body: '{"threshold":20}' });
    const badRate = await request(
      url,
      'POST',
      '/api/rate',
      { 'content-type': 'application/json' },
      '{"fps":99}',
    );
    expect(badRate.status).toBe(400);
    expect(JSON.parse(badRate.body).error).toBe('rate: expected {"fps": <number 1-23>}');

    const result = await run;
    expect(result.ledger.processed).toBe(FRAMES);
    expect(result.deduper!.threshold).toBe(20);

    // The fast tab saw the state move, the gallery, and frames as display-size JPEGs.
    const states = events.filter((e) => e.event === 'state').map((e) => JSON.parse(e.data));
    const processed = states.map((s) => s.counts.processed as number);
    expect(processed.at(-1)).toBeGreaterThan(processed[0]!);
    expect([...processed].sort((a, b) => a - b)).toEqual(processed);
    const gallery = JSON.parse(events.filter((e) => e.event === 'gallery').at(-1)!.data);
    expect(gallery.total).toBe(result.deduper!.status().uniques);
    const frame = JSON.parse(events.filter((e) => e.event === 'frame').at(-1)!.data);
    const jpeg = Buffer.from(frame.src.replace('data:image/jpeg;base64,', ''), 'base64');
    const meta = await sharp(jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBeLessThanOrEqual(1280);

    // The stalled tab held nothing back (every frame received and processed above): once its socket was
    // full, its updates were dropped (counted), never queued without bound.
    expect(result.ledger.received).toBe(FRAMES);
    expect((await droppedUpdates()) - droppedBefore).toBeGreaterThan(0);
    (await stalled!.res).destroy();
    fast!.req.destroy();
  });

  it('classify mode: frames carry the predicted label and confidence; the accuracy once scored', async () => {
    let events: SseEvent[] = [];
    const result = await runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        modelsDir: 'models',
        out: path.join(dir, 'out-classify'),
        source: 'fashion-mnist-test',
        count: 400,
        fps: 200,
        mode: 'classify',
        workers: 1,
      },
      { onMetricsServer: (s) => (events = subscribe(s.url).events) },
    );
    expect(result.scored!.accuracy).toBeGreaterThan(0.8);
    const frame = JSON.parse(events.filter((e) => e.event === 'frame').at(-1)!.data);
    expect(FASHION_MNIST_CLASSES).toContain(frame.prediction.label);
    expect(frame.prediction.confidence).toBeGreaterThan(0);
    // The session's last state is pushed just before runPipeline returns; it may still be on its way.
    const scoredState = (e: SseEvent) => e.event === 'state' && JSON.parse(e.data).classify?.accuracy != null;
    await waitFor(() => events.some(scoredState));
    const last = JSON.parse(events.filter((e) => e.event === 'state').at(-1)!.data);
    expect(last.threshold).toBeNull();
    expect(last.classify.accuracy).toBe(result.scored!.accuracy);
    expect(last.counts.processed).toBe(400);
  });
});
