/**
 * A live `run --mode dedupe` session over a folder source with known duplicates: the unique store keeps
 * exactly the distinct frames, `POST /api/save` on the run's HTTP port writes a new folder each time with a
 * correct manifest, and --save-name saves at the end.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../../src/commands/run.js';
import type { UniquesManifest } from '../../../src/dedupe/save.js';
import type { HttpServer } from '../../../src/common/http.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { CALTECH, MODELS_DIR } from '../../test-data.js';

let dir: string;
let frames: string;
let server: StreamServer;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-live-dedupe-'));
  frames = path.join(dir, 'frames');
  await mkdir(frames);
  const truth = JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as {
    groups: string[][];
  };
  const [a, b, c] = [truth.groups[0]!, truth.groups[1]!, truth.groups[2]!];
  // Stream order: A A B A C B C → the distinct frames are seq 0 (A), 2 (B), 4 (C).
  const order = [a[0]!, a[1]!, b[0]!, a[2]!, c[0]!, b[1]!, c[1]!];
  for (const [i, f] of order.entries())
    await copyFile(path.join(CALTECH, f), path.join(frames, `frame-${i}.jpg`));
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

async function postSave(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}/api/save`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('live dedupe session', () => {
  it('keeps exactly the distinct frames; POST /api/save twice gives two folders; --save-name saves at the end', async () => {
    const out = path.join(dir, 'out');
    let http: HttpServer | undefined;
    let saves: Promise<Array<{ status: number; json: Record<string, unknown> }>> | undefined;
    const result = await runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        modelsDir: MODELS_DIR,
        out,
        source: frames,
        fps: 4,
        mode: 'dedupe',
        method: 'cnn',
        workers: 1,
        batchSize: 1,
        saveName: 'end-of-shift',
      },
      {
        onMetricsServer: (s) => (http = s),
        onProgress: (processed) => {
          // After frames 0-2 (A A B): two saves in a row, while the session goes on.
          if (processed >= 3 && !saves) {
            saves = (async () => [
              await postSave(http!.url, { name: '4711' }),
              await postSave(http!.url, { name: '4711' }),
              await postSave(http!.url, { name: '../../etc' }),
              await postSave(http!.url, { nombre: 1 }),
            ])();
          }
        },
      },
    );
    const [first, second, bad, missing] = await saves!;

    expect(result.deduper!.uniques().map((u) => u.seq)).toEqual([0, 2, 4]);
    expect(result.deduper!.status()).toMatchObject({ frames: 7, uniques: 3, duplicates: 4 });

    expect(first!.status).toBe(201);
    expect(second!.status).toBe(201);
    expect(first!.json.folder).toBe(path.join(out, 'uniques', '4711'));
    expect(second!.json.folder).toBe(path.join(out, 'uniques', '4711_1'));
    expect(bad!.status).toBe(400);
    expect(bad!.json.error).toMatch(/not allowed/);
    expect(missing!.status).toBe(400);
    expect(missing!.json.error).toMatch(/expected a string/);

    for (const folder of [first!.json.folder as string, second!.json.folder as string]) {
      const manifest = JSON.parse(
        await readFile(path.join(folder, 'manifest.json'), 'utf8'),
      ) as UniquesManifest;
      expect(manifest.method).toBe('cnn');
      expect(manifest.model).toMatchObject({
        name: 'mobilenet-v3-small-075',
        file: 'mobilenet_v3_small_075_224-embed.onnx',
      });
      const stream = manifest.streams[0]!;
      // Saved mid-session: at least frames 0-2 were decided (A kept, A duplicate, B kept).
      expect(stream.uniques.slice(0, 2).map((u) => u.seq)).toEqual([0, 2]);
      expect(stream.duplicates[0]).toMatchObject({ seq: 1, unique: 0 });
      expect(stream.duplicates[0]!.distance).toBeLessThanOrEqual(0.5);
      for (const u of stream.uniques) {
        const bytes = await readFile(path.join(folder, u.image));
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(u.sha256);
        // JPEG frames are saved as the bytes the camera/folder sent.
        expect(bytes).toEqual(await readFile(path.join(frames, `frame-${u.seq}.jpg`)));
      }
    }

    const end = path.join(out, 'uniques', 'end-of-shift');
    const manifest = JSON.parse(await readFile(path.join(end, 'manifest.json'), 'utf8')) as UniquesManifest;
    expect(manifest.counts).toEqual({ frames: 7, uniques: 3, duplicates: 4 });
    expect(manifest.streams[0]!.uniques.map((u) => u.seq)).toEqual([0, 2, 4]);
    expect(manifest.streams[0]!.duplicates.map((d) => [d.seq, d.unique])).toEqual([
      [1, 0],
      [3, 0],
      [5, 2],
      [6, 4],
    ]);
    expect((await readdir(end)).sort()).toEqual([
      '00001-seq0.jpg',
      '00002-seq2.jpg',
      '00003-seq4.jpg',
      'manifest.json',
    ]);
  });
});
