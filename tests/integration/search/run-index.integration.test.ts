/**
 * `run --mode dedupe --index PATH` against the real stream server streaming the caltech-resize photos:
 * the saved uniques go into the index, and the run's HTTP port serves the search page meanwhile.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../../src/commands/run.js';
import type { HttpServer } from '../../../src/common/http.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { openStore } from '../../../src/search/index.js';
import { startStreamServer } from '../../../src/stream/index.js';

const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-run-index-'));

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('run --index', () => {
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
});
