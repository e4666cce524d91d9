/**
 * `dedupe --index PATH`: the images a batch dedupe keeps go straight into a similar-image index
 * (real photos, real embedder).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dedupeFolder } from '../../../src/commands/dedupe.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { Searcher, openStore } from '../../../src/search/index.js';

const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-index-option-'));

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('dedupe --index', () => {
  it('indexes exactly the kept images, one per caltech-resize group', async () => {
    const db = path.join(tmp, 'kept.db');
    const { report } = await dedupeFolder(CALTECH, {
      out: path.join(tmp, 'report'),
      modelsDir: path.join(PROJECT_ROOT, 'models'),
      workers: 2,
      index: db,
    });
    const groups = (
      JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as { groups: string[][] }
    ).groups;
    expect(report.groups).toHaveLength(groups.length);
    const store = await openStore(db);
    try {
      const files = (await store.files()).map((f) => path.relative(CALTECH, f.path)).sort();
      expect(files).toEqual(report.groups.map((g) => g.kept).sort());
      // Each kept image finds itself first; the next one is from another group (far away).
      const searcher = new Searcher(store, `${db}.hnsw`);
      for (const f of await store.files()) {
        const hits = await searcher.searchId(f.id, { k: 2, exact: true });
        expect(hits[0]!.id).toBe(f.id);
        expect(hits[1]!.distance).toBeGreaterThan(0.3);
      }
    } finally {
      await store.close();
    }
  });
});
