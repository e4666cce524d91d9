/**
 * `run --mode both|dedupe` against the real stream server: the unique store is fed in seq order while the
 * session streams, /api/status answers mid-session, and --save-name writes the uniques folder.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, analysisPlan, type PipelineConfig } from '../../../src/commands/run.js';
import { poolIsolation } from '../../../src/commands/run/plan.js';
import type { HttpServer } from '../../../src/common/http.js';
import {
  encodeDatasetFile,
  loadFashionMnist,
  startStreamServer,
  writeDatasetFile,
} from '../../../src/stream/index.js';
import { startServerFixture, testModel, type ServerFixture } from './helpers.js';
import { POTATOES } from '../../test-data.js';
import { captureLogs } from '../../helpers/log-capture.js';
import { encodeIdx } from '../../../src/stream/idx.js';
import { writeHeavyCrops } from '../../helpers/heavy-crops.js';

const { ref: MODEL } = testModel();

describe('run with dedupe', () => {
  let fixture: ServerFixture;
  let dir: string;
  let base: Partial<PipelineConfig>;
  beforeAll(async () => {
    fixture = await startServerFixture('dedupe-run');
    ({ dir, base } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  /**
   * `fn` given the run options that reach a stream server of its own over `source` (results under
   * `name`); the server closes after.
   */
  async function withSourceServer<T>(
    source: string,
    name: string,
    fn: (session: Partial<PipelineConfig>) => Promise<T>,
  ): Promise<T> {
    const server = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      source,
      resultsDir: path.join(dir, name),
    });
    try {
      return await fn({ ...base, framesPort: server.framesPort, controlPort: server.controlPort });
    } finally {
      await server.close();
    }
  }

  /**
   * A `--mode dedupe` cnn session, 2 workers, over the 24 frames a server streams from `source` (a file
   * named so that the run guesses photos): every frame received and processed, none invalid.
   */
  function dedupeFileSession(source: string, name: string) {
    return withSourceServer(source, name, async (session) => {
      const result = await runPipeline(
        { ...session, source, count: 24, mode: 'dedupe', method: 'cnn', workers: 2 },
        { model: MODEL },
      );
      expect(result.ledger.counts(result.sent)).toMatchObject({
        received: 24,
        processed: 24,
        missing: 0,
        invalid: {},
      });
      expect(result.deduper!.status().frames).toBe(24);
      return result;
    });
  }

  it('plans the tasks from the mode, the method and the frames', () => {
    const fashion = { width: 28, height: 28, channels: 1 };
    expect(analysisPlan({ mode: 'classify', method: 'cnn' }, fashion)).toMatchObject({
      classify: true,
      images: false,
      dedupe: false,
    });
    expect(analysisPlan({ mode: 'both', method: 'cnn' }, fashion)).toMatchObject({
      classify: true,
      classifierEmbedding: true,
      images: false,
    });
    expect(analysisPlan({ mode: 'dedupe', method: 'cnn' }, fashion)).toMatchObject({
      classify: true,
      labels: false,
      images: false,
    });
    expect(
      analysisPlan({ mode: 'dedupe', method: 'cnn' }, { width: 640, height: 480, channels: 3 }),
    ).toMatchObject({ classify: false, images: true });
    expect(analysisPlan({ mode: 'both', method: 'phash' }, fashion)).toMatchObject({
      classify: true,
      classifierEmbedding: false,
      images: true,
    });
    // Ring tasks (classify) need threads; photo features alone go to processes, guessed from the name
    // before the session and decided by the plan after.
    const photos = { width: 640, height: 480, channels: 3 };
    expect(poolIsolation({ mode: 'dedupe', method: 'cnn', source: '/data/frames' })).toBe('processes');
    expect(poolIsolation({ mode: 'dedupe', method: 'cnn', source: 'fashion-mnist-test' })).toBe('threads');
    expect(poolIsolation({ mode: 'dedupe', method: 'cnn' })).toBe('threads');
    expect(poolIsolation({ mode: 'both', method: 'cnn', source: '/data/frames' })).toBe('threads');
    const dedupe = { mode: 'dedupe', method: 'cnn' } as const;
    expect(poolIsolation(dedupe, analysisPlan(dedupe, photos))).toBe('processes');
    expect(poolIsolation(dedupe, analysisPlan(dedupe, fashion))).toBe('threads');
    const both = { mode: 'both', method: 'cnn' } as const;
    expect(poolIsolation(both, analysisPlan(both, photos))).toBe('threads');
  });

  it('both + cnn: classifies every frame, keeps the distinct ones, serves /api/status mid-session and saves', async () => {
    let http: HttpServer | undefined;
    let status: Promise<{ frames: number; uniques: number }> | undefined;
    const result = await runPipeline(
      { ...base, count: 400, mode: 'both', method: 'cnn', saveName: 'order-1', batchSize: 32 },
      {
        model: MODEL,
        onMetricsServer: (s) => (http = s),
        onProgress: (processed) => {
          if (!status && processed >= 100) {
            status = fetch(`${http!.url}/api/status`).then(
              (r) => r.json() as Promise<{ frames: number; uniques: number }>,
            );
          }
        },
      },
    );
    expect(result.ledger.counts(result.sent)).toMatchObject({
      received: 400,
      processed: 400,
      missing: 0,
    });
    const mid = await status!;
    expect(mid.frames).toBeGreaterThanOrEqual(100);
    const final = result.deduper!.status();
    expect(final.frames).toBe(400);
    expect(final.uniques).toBeGreaterThan(0);
    expect(final.uniques + final.duplicates).toBe(400);
    const doc = result.written!.document;
    expect(doc.mode).toBe('both');
    expect(doc.dedupe).toMatchObject({ method: 'cnn', uniques: final.uniques, duplicates: final.duplicates });
    expect(doc.dedupe!.savedFolders).toHaveLength(1);
    const saved = doc.dedupe!.savedFolders[0]!;
    expect(existsSync(saved)).toBe(true);
    expect((await readdir(saved)).length).toBeGreaterThanOrEqual(final.uniques);
    expect(result.scored!.received).toBe(400);
  });

  it('dedupe + phash: features computed on the workers from ring slots, fed in seq order', async () => {
    const result = await runPipeline(
      { ...base, count: 300, mode: 'dedupe', method: 'phash', batchSize: 16, workers: 2 },
      { model: MODEL },
    );
    expect(result.ledger.counts(result.sent)).toMatchObject({
      received: 300,
      processed: 300,
      missing: 0,
    });
    const status = result.deduper!.status();
    expect(status.frames).toBe(300);
    expect(status.uniques).toBeGreaterThan(1);
    expect(status.streams[0]!.lastSeq).toBe(299);
    expect(result.written!.document.dedupe).toMatchObject({ method: 'phash', threshold: 16 });
  });

  it('a source whose name hides Fashion-MNIST-like frames: the guessed process pool gives way to threads', async () => {
    // A dataset subset file (`framesift dataset create`) under a name that does not say Fashion-MNIST:
    // the run guesses photos (a process pool) and, once the session announces 28×28 gray frames, needs
    // the classifier on the ring (threads). Every image comes twice in a row: 12 uniques of 24 frames.
    const file = path.join(dir, 'subset.fsds');
    const indices = Array.from({ length: 24 }, (_, i) => i >> 1);
    await writeDatasetFile(
      file,
      encodeDatasetFile(
        await loadFashionMnist('test'),
        { source: 'fashion-mnist', split: 'test', seed: 0 },
        indices,
      ),
    );
    const result = await dedupeFileSession(file, 'subset-server');
    expect(result.session).toMatchObject({ width: 28, height: 28, channels: 1 });
    expect(result.deduper!.status().uniques).toBe(12);
  });

  it('raw photo-sized frames in a session on processes go to threads reading the ring', async () => {
    // 64×64 gray frames from an IDX file: photo features (not 28×28), so a pool of processes; but raw
    // pixels cost more to copy between processes than to embed, so their batches go to a thread pool on
    // the ring, started for them. Every frame comes twice in a row.
    const { images } = await loadFashionMnist('test');
    const pixels = new Uint8Array(24 * 64 * 64);
    for (let i = 0; i < 24; i++) {
      const big = await sharp(images.subarray((i >> 1) * 784, ((i >> 1) + 1) * 784), {
        raw: { width: 28, height: 28, channels: 1 },
      })
        .resize(64, 64)
        .extractChannel(0)
        .raw()
        .toBuffer();
      pixels.set(big, i * 64 * 64);
    }
    const file = path.join(dir, 'big-images-idx3-ubyte');
    await writeFile(file, encodeIdx([24, 64, 64], pixels));
    const logs = captureLogs();
    try {
      const result = await dedupeFileSession(file, 'raw-server');
      expect(result.session).toMatchObject({ width: 64, height: 64, channels: 1 });
      const status = result.deduper!.status();
      expect(status.uniques).toBeGreaterThan(1);
      expect(status.uniques).toBeLessThanOrEqual(12);
      const pools = logs.entries.filter((e) => e.message === 'worker pool started').map((e) => e.isolation);
      expect(pools).toEqual(['processes', 'threads']);
      expect(logs.entries.some((e) => e.message === 'thread pool started for raw frames')).toBe(true);
    } finally {
      logs.stop();
    }
  });

  it('dedupe + change over a fixed camera: --change-options reach the workers and the store', async () => {
    await withSourceServer(POTATOES, 'photos-server', async (server) => {
      const session = { ...server, count: 40, mode: 'dedupe' as const, method: 'change' as const };
      // Defaults: each new potato passing under the camera is a change.
      const defaults = await runPipeline(session, { model: MODEL });
      expect(defaults.ledger.counts(defaults.sent)).toMatchObject({ received: 40, processed: 40 });
      expect(defaults.deduper!.status().uniques).toBeGreaterThan(3);
      // A pixel threshold of 255 can never be exceeded: nothing changes, only the first frame is kept.
      const blind = await runPipeline({ ...session, changeOptions: 'pixel=255' }, { model: MODEL });
      expect(blind.ledger.counts(blind.sent)).toMatchObject({ received: 40, processed: 40 });
      expect(blind.deduper!.status().uniques).toBe(1);
    });
  }, 180_000); // two sessions of 299×299 PNG frames: minutes on a loaded 2-core machine

  it('dedupe + cnn over photos: the keypoint check joins heavy crops live, and results.json counts it', async () => {
    const folder = await writeHeavyCrops(path.join(dir, 'heavy-crops'));
    await withSourceServer(folder, 'heavy-crops-server', async (server) => {
      const session = {
        ...server,
        count: 5,
        mode: 'dedupe' as const,
        method: 'cnn' as const,
        workers: 2,
      };
      const on = await runPipeline(session, { model: MODEL });
      expect(on.ledger.counts(on.sent)).toMatchObject({ received: 5, processed: 5, missing: 0 });
      // The original, then its strip and zoomed part (joined by keypoints), then two re-shots (kept).
      expect(on.deduper!.status()).toMatchObject({ frames: 5, uniques: 3, duplicates: 2 });
      expect(on.deduper!.status().keypoints).toMatchObject({ joined: 2, unreadable: 0 });
      // results.json on disk (valid against its schema, or `invalid` says why) tells the same story.
      expect(on.written!.invalid).toBeUndefined();
      const doc = JSON.parse(await readFile(path.join(on.written!.folder, 'results.json'), 'utf8')) as {
        dedupe: { uniques: number; duplicates: number; keypoints: { joined: number } };
      };
      expect(doc.dedupe).toMatchObject({ uniques: 3, duplicates: 2, keypoints: { joined: 2 } });
      const off = await runPipeline({ ...session, keypoints: 'off' as const }, { model: MODEL });
      expect(off.deduper!.status()).toMatchObject({ frames: 5, uniques: 5, keypoints: null });
    });
  }, 120_000);
});
