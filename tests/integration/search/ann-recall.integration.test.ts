/**
 * ANN recall@10 against exact search at a moderate size with the default settings (the HNSW parameters and
 * the query-time ef rule), through the SQLite store as `search` uses it. The vectors are 1024-d (the
 * embedder's size) in 32 tight clusters of ~625: within a cluster every vector is nearly as far as every
 * other, the case where a graph search needs many candidates. On these vectors the rule's ef (128) reaches
 * 0.9985 and ef 64 only 0.986, so a smaller ef, a thinner graph or a wrong distance fails this test.
 * (Benchmarked at 250,000 vectors by `npm run bench -- search`, docs/search.md.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { seededRandom } from '../../../src/common/random.js';
import {
  AnnIndex,
  DEFAULT_HNSW,
  ExactIndex,
  efFor,
  openStore,
  type Hit,
  type ImageWrite,
  type ModelStamp,
} from '../../../src/search/index.js';

const SIZE = 20_000;
const CLUSTERS = 32;
const QUERIES = 200;
const DIMENSION = 1024;
const MODEL: ModelStamp = {
  name: 'synthetic',
  file: 'synthetic.onnx',
  sha256: 'c'.repeat(64),
  dimension: DIMENSION,
};

/** Gaussian samples from a seeded uniform source (Box–Muller). */
function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Deterministic vectors: the same random unit centres, each vector a centre plus noise (σ 0.02 per axis). */
function clusteredVectors(count: number, seed: number): Float32Array[] {
  const centreNoise = gaussian(seededRandom(12345));
  const centres = Array.from({ length: CLUSTERS }, () =>
    Float32Array.from({ length: DIMENSION }, centreNoise),
  );
  for (const c of centres) {
    const norm = Math.hypot(...c);
    for (let d = 0; d < DIMENSION; d++) c[d] = c[d]! / norm;
  }
  const rand = seededRandom(seed);
  const noise = gaussian(rand);
  return Array.from({ length: count }, () => {
    const c = centres[Math.floor(rand() * CLUSTERS)]!;
    return Float32Array.from(c, (x) => x + 0.02 * noise());
  });
}

function recallAt10(found: Hit[][], truth: Hit[][]): number {
  let sum = 0;
  found.forEach((hits, i) => {
    const relevant = new Set(truth[i]!.map((h) => h.id));
    sum += hits.slice(0, 10).filter((h) => relevant.has(h.id)).length / 10;
  });
  return sum / found.length;
}

const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-ann-recall-'));

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

it('ANN recall@10 vs exact is ≥ 0.99 at 20,000 clustered 1024-d vectors with the default settings', async () => {
  const store = await openStore(path.join(tmp, 'index.db'));
  try {
    await store.ensureModel(MODEL);
    const vectors = clusteredVectors(SIZE, 1);
    for (let i = 0; i < SIZE; i += 2000) {
      await store.write(
        vectors.slice(i, i + 2000).map(
          (vector, j): ImageWrite => ({
            path: `/synthetic/${i + j}.jpg`,
            size: 1,
            sha256: String(i + j).padStart(64, '0'),
            mtimeMs: i + j,
            width: 1,
            height: 1,
            vector,
          }),
        ),
      );
    }
    const ann = await AnnIndex.rebuild(store, path.join(tmp, 'index.db.hnsw'), DEFAULT_HNSW, MODEL);
    const exact = await ExactIndex.load(store, DIMENSION);
    expect(ann.size).toBe(SIZE);
    const queries = clusteredVectors(QUERIES, 99);
    const truth = queries.map((q) => exact.search(q, 10));

    const recall = recallAt10(
      queries.map((q) => ann.search(q, 10)),
      truth,
    );
    expect(ann.efFor(10)).toBe(efFor(SIZE, 10));
    expect(recall).toBeGreaterThanOrEqual(0.99);
    // The vectors are hard enough to tell: half the candidates lose recall.
    const halfEf = recallAt10(
      queries.map((q) => ann.search(q, 10, ann.efFor(10) / 2)),
      truth,
    );
    expect(halfEf).toBeLessThan(0.99);
  } finally {
    await store.close();
  }
}, 600_000);
