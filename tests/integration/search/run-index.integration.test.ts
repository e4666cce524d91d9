/**
 * `run --mode dedupe --index PATH` and `app --index PATH` against the real stream server streaming the
 * caltech-resize photos: the saved uniques go into the index as soon as they are saved, and the HTTP port
 * serves the search page meanwhile (the app's for as long as the app runs, across sessions).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from '../../../src/commands/app.js';
import { runPipeline } from '../../../src/commands/run.js';
import { resolveConfig } from '../../../src/common/config.js';
import type { HttpServer } from '../../../src/common/http.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { openStore } from '../../../src/search/index.js';
import { startStreamServer } from '../../../src/stream/index.js';

const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-run-index-'));

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('--index on run and app', () => {
  it('puts the saved uniques into the index and serves the search page on the run port', async () => {
    const server = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      source: CALTECH,
      resultsDir: path.join(tmp, 'server'),
    });
    const db = path.join(tmp, 'uniques.db');
    let page: Promise<{ status: number; text: string }> | undefined;
    try {
      const result = await runPipeline(
        {
          host: '127.0.0.1',
          framesPort: server.framesPort,
          controlPort: server.controlPort,
          metricsPort: 0,
          out: path.join(tmp, 'out'),
          modelsDir: path.join(PROJECT_ROOT, 'models'),
          count: 82,
          fps: 0,
          mode: 'dedupe',
          method: 'cnn',
          saveName: 'order-9',
          index: db,
        },
        {
          onMetricsServer: (http: HttpServer) => {
            page = fetch(`${http.url}/search`).then(async (r) => ({
              status: r.status,
              text: await r.text(),
            }));
          },
        },
      );
      const saved = result.deduper!.status().saves[0]!.folder;
      const images = (await readdir(saved)).filter((f) => /\.(jpe?g|png)$/i.test(f));
      expect(images.length).toBe(result.deduper!.status().uniques);
      const store = await openStore(db);
      try {
        const files = (await store.files()).map((f) => path.basename(f.path)).sort();
        expect(files).toEqual(images.sort());
        expect((await store.model())!.name).toBe('mobilenet-v3-small-075');
      } finally {
        await store.close();
      }
      const served = await page!;
      expect(served.status).toBe(200);
      expect(served.text).toContain('id="vector"');
    } finally {
      await server.close();
    }
  });

  it('app: a save from the page is searchable when it is answered, and the index outlives the session', async () => {
    const dir = path.join(tmp, 'app');
    const db = path.join(dir, 'uniques.db');
    const app = await startApp(
      resolveConfig(
        'app',
        {
          source: CALTECH,
          framesPort: 0,
          controlPort: 0,
          metricsPort: 0,
          out: path.join(dir, 'out'),
          resultsDir: path.join(dir, 'server'),
          workers: 1,
          imagesPerSecond: 23,
          index: db,
        },
        { MODELS_DIR: 'models' },
      ),
    );
    try {
      // The session has seen every photo once the page's deduper has 82 frames.
      await new Promise<void>((resolve) => {
        const check = () =>
          (app.page.deduper?.status().frames ?? 0) >= 82 ? resolve() : setTimeout(check, 100);
        check();
      });
      const saved = await fetch(`${app.url}api/save`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'order-7' }),
      });
      expect(saved.status).toBe(201);
      const { folder, uniques } = (await saved.json()) as { folder: string; uniques: number };
      const images = (await readdir(folder)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
      expect(images).toHaveLength(uniques);
      const listed = async () => {
        const store = await openStore(db);
        try {
          return (await store.files()).map((f) => path.basename(f.path)).sort();
        } finally {
          await store.close();
        }
      };
      // Indexed before the save was answered, while the session still runs.
      expect(await listed()).toEqual(images);
      const during = await fetch(`${app.url}api/images/1`);
      expect(during.status).toBe(200);
      // The folder source ends, the session with it; the app's search API still answers from the index.
      await app.idle();
      const after = await fetch(`${app.url}api/images/1/neighbours?k=3`);
      expect(after.status, await after.clone().text()).toBe(200);
      expect(await listed()).toEqual(images);
    } finally {
      await app.close();
    }
  }, 180_000);
});
