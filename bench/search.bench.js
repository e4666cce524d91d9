// `npm run bench -- search`: the similar-image index, measured.
// 1. Quality on pimmi and caltech-resize ($FRAMESIFT_TESTDATA/neardup): every image is a query; mAP and
//    recall@10 of its own group (exact), the same through the ANN index, and ANN recall@10 vs exact.
// 2. Index build rate on real photos (`index` of pimmi: read, sha256, decode, embed, write), SQLite and MariaDB,
//    as a ratio of the decode + inference ceiling measured in the same run (bench/dedupe-ceiling.js), with
//    where the time went (workers: decode/preprocess vs inference; main thread: hashing, store writes).
// 3. Synthetic vectors (real pimmi embeddings + noise, 1024-d) at each size of FRAMESIFT_BENCH_SEARCH_SIZES
//    (default 10000,50000): store write rate, ANN build, query latency p50/p99 of top-100 (ANN and exact),
//    ANN recall@10 vs exact, `neighbours --k 100` time, disk and memory; SQLite, and MariaDB at each size of
//    FRAMESIFT_BENCH_SEARCH_MARIADB_SIZES (default: the first size).
// At each size the same queries are also answered at the fixed ef values of FRAMESIFT_BENCH_SEARCH_EF (default
// 128,256,512): recall@10 vs exact and top-100 latency, the measurements behind the default ef rule.
// FRAMESIFT_BENCH_SEARCH_PARTS=quality,build,synthetic,neighbours picks parts (default all; `neighbours` is
// the synthetic sizes' `neighbours --k 100`; without quality or build, pimmi is indexed once for the centres). Rows are also printed to
// stderr as they are measured, so a long run's figures survive an interruption.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureCeiling } from './dedupe-ceiling.js';
import { loadSets } from './neardup-sets.js';
import { startPhotoEmbedder } from '../dist/commands/photo-embedder.js';
import { seededRandom } from '../dist/common/random.js';
import {
  AnnIndex,
  DEFAULT_HNSW,
  ExactIndex,
  efFor,
  Searcher,
  computeNeighbours,
  indexFolder,
  openStore,
} from '../dist/search/index.js';
import mysql from 'mysql2/promise';
import { mariadbMissing, startMariaDb } from '../tests/helpers/mariadb.js';

const sizes = (process.env.FRAMESIFT_BENCH_SEARCH_SIZES ?? '10000,50000')
  .split(',')
  .filter(Boolean)
  .map(Number);
const mariaSizes = (process.env.FRAMESIFT_BENCH_SEARCH_MARIADB_SIZES ?? String(sizes[0] ?? 10000))
  .split(',')
  .filter(Boolean)
  .map(Number);
const parts = new Set(
  (process.env.FRAMESIFT_BENCH_SEARCH_PARTS ?? 'quality,build,synthetic,neighbours').split(','),
);
/** Fixed query-time ef values measured beside the default rule (recall@10 vs exact and latency of each). */
const efSweep = (process.env.FRAMESIFT_BENCH_SEARCH_EF ?? '128,256,512')
  .split(',')
  .filter(Boolean)
  .map(Number);
const QUERIES = 200;
/** Exact top-100 is a full scan: fewer queries at large sizes (it is the reference, not the target). */
const exactQueries = (size) => (size > 50_000 ? 100 : QUERIES);

/** A row, also printed at once (a 250k run takes long; its figures should not wait for the end). */
function pushRow(rows, row) {
  rows.push(row);
  process.stderr.write(
    `search bench: ${row.what}: ${typeof row.value === 'number' ? row.value.toFixed(3) : row.value} ${row.unit}\n`,
  );
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Average precision of a ranked list (itself excluded) against the relevant set. */
function averagePrecision(ranked, relevant) {
  if (relevant.size === 0) return undefined;
  let hits = 0;
  let sum = 0;
  ranked.forEach((id, i) => {
    if (relevant.has(id)) sum += ++hits / (i + 1);
  });
  return sum / relevant.size;
}

async function quality(set, embedder, tmp, rows, notes) {
  const db = path.join(tmp, `${set.name}.db`);
  const store = await openStore(db);
  const files = set.files.filter((f) => !set.excluded.has(f));
  const report = await indexFolder(store, embedder, set.dir, { files });
  pushRow(rows, {
    what: `index build, ${set.name} (${report.embedded} photos, SQLite)`,
    value: report.imagesPerSecond,
    unit: 'images/s',
  });
  const idToFile = new Map((await store.files()).map((f) => [f.id, path.relative(set.dir, f.path)]));
  const searcher = new Searcher(store, `${db}.hnsw`);
  const n = idToFile.size;
  const stats = { exact: { ap: [], r10: [] }, ann: { ap: [], r10: [] }, overlap: [] };
  for (const [id, file] of idToFile) {
    const group = set.groupOf.get(file);
    const relevant = new Set(
      [...idToFile]
        .filter(([other, f]) => other !== id && group !== undefined && set.groupOf.get(f) === group)
        .map(([o]) => o),
    );
    if (relevant.size === 0) continue;
    const exact = (await searcher.searchId(id, { k: n, exact: true }))
      .map((h) => h.id)
      .filter((o) => o !== id);
    const ann = (await searcher.searchId(id, { k: Math.min(n, 100) }))
      .map((h) => h.id)
      .filter((o) => o !== id);
    for (const [name, ranked] of [
      ['exact', exact],
      ['ann', ann],
    ]) {
      stats[name].ap.push(averagePrecision(ranked, relevant));
      stats[name].r10.push(
        ranked.slice(0, 10).filter((o) => relevant.has(o)).length / Math.min(10, relevant.size),
      );
    }
    const truth = new Set(exact.slice(0, 10));
    stats.overlap.push(ann.slice(0, 10).filter((o) => truth.has(o)).length / Math.min(10, truth.size));
  }
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  pushRow(rows, {
    what: `${set.name}: mAP of the own group, exact (${stats.exact.ap.length} queries)`,
    value: mean(stats.exact.ap),
    unit: '',
  });
  pushRow(rows, { what: `${set.name}: mAP, ANN (top 100)`, value: mean(stats.ann.ap), unit: '' });
  pushRow(rows, {
    what: `${set.name}: recall@10 of the own group, exact`,
    value: mean(stats.exact.r10),
    unit: '',
  });
  pushRow(rows, {
    what: `${set.name}: recall@10 of the own group, ANN`,
    value: mean(stats.ann.r10),
    unit: '',
  });
  pushRow(rows, { what: `${set.name}: ANN recall@10 vs exact`, value: mean(stats.overlap), unit: '' });
  notes.push(`${set.name}: ${report.corrupt.length} unreadable files`);
  await store.close();
}

/** Vectors near real embeddings: each is a random pimmi embedding plus Gaussian noise. */
function* syntheticVectors(centres, count, sigma, seed = 1) {
  const rand = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (let i = 0; i < count; i++) {
    const c = centres[Math.floor(rand() * centres.length)];
    const v = new Float32Array(c.length);
    for (let d = 0; d < c.length; d++) v[d] = c[d] + sigma * gauss();
    yield v;
  }
}

async function synthetic(db, label, size, centres, model, rows, annFile, maria) {
  const store = await openStore(db);
  await store.ensureModel(model);
  const rssBefore = process.memoryUsage().rss;
  let started = performance.now();
  let batch = [];
  let i = 0;
  for (const vector of syntheticVectors(centres, size, 0.02)) {
    batch.push({
      path: `/synthetic/${i}.jpg`,
      size: 1,
      sha256: String(i).padStart(64, '0'),
      mtimeMs: i,
      width: 1,
      height: 1,
      vector,
    });
    i++;
    if (batch.length === 1000) {
      await store.write(batch);
      batch = [];
    }
  }
  await store.write(batch);
  const writeSeconds = (performance.now() - started) / 1000;
  pushRow(rows, { what: `${label} ${size}: store writes`, value: size / writeSeconds, unit: 'vectors/s' });

  started = performance.now();
  const ann = await AnnIndex.rebuild(store, annFile, DEFAULT_HNSW, model);
  const buildSeconds = (performance.now() - started) / 1000;
  pushRow(rows, {
    what: `${label} ${size}: ANN build (M 16, efConstruction 100)`,
    value: buildSeconds,
    unit: 's',
  });
  const exact = await ExactIndex.load(store, model.dimension);
  const queries = [...syntheticVectors(centres, QUERIES, 0.02, 99)];
  const annMs = [];
  const exactMs = [];
  let overlap = 0;
  const truths = [];
  const searcher = new Searcher(store, annFile);
  await searcher.syncAnn();
  const apiMs = [];
  for (const [qi, q] of queries.entries()) {
    let t = performance.now();
    const a = ann.search(q, 100);
    annMs.push(performance.now() - t);
    if (qi < exactQueries(size)) {
      t = performance.now();
      const e = exact.search(q, 100);
      exactMs.push(performance.now() - t);
      const truth = new Set(e.slice(0, 10).map((h) => h.id));
      truths.push(truth);
      overlap += a.slice(0, 10).filter((h) => truth.has(h.id)).length / 10;
    }
    t = performance.now();
    await searcher.searchVector(q, { k: 100 });
    apiMs.push(performance.now() - t);
  }
  pushRow(rows, {
    what: `${label} ${size}: query-time ef of the default rule (top-10 / top-100)`,
    value: `${efFor(size, 10)} / ${efFor(size, 100)}`,
    unit: '',
  });
  pushRow(rows, {
    what: `${label} ${size}: query top-100 ANN p50 / p99`,
    value: `${percentile(annMs, 0.5).toFixed(2)} / ${percentile(annMs, 0.99).toFixed(2)}`,
    unit: 'ms',
  });
  pushRow(rows, {
    what: `${label} ${size}: query top-100 with image records (Searcher) p50 / p99`,
    value: `${percentile(apiMs, 0.5).toFixed(2)} / ${percentile(apiMs, 0.99).toFixed(2)}`,
    unit: 'ms',
  });
  pushRow(rows, {
    what: `${label} ${size}: query top-100 exact p50 / p99 (${exactMs.length} queries)`,
    value: `${percentile(exactMs, 0.5).toFixed(1)} / ${percentile(exactMs, 0.99).toFixed(1)}`,
    unit: 'ms',
  });
  pushRow(rows, {
    what: `${label} ${size}: ANN recall@10 vs exact (${exactMs.length} queries)`,
    value: overlap / exactMs.length,
    unit: '',
  });

  // The same queries at fixed ef values: recall@10 vs exact (top-10 searched with that ef) and top-100
  // latency, the measurements behind the default rule.
  for (const ef of efSweep) {
    let hit = 0;
    for (const [qi, truth] of truths.entries()) {
      hit += ann.search(queries[qi], 10, ef).filter((h) => truth.has(h.id)).length / 10;
    }
    const ms = [];
    for (const q of queries) {
      const t = performance.now();
      ann.search(q, 100, ef);
      ms.push(performance.now() - t);
    }
    pushRow(rows, {
      what: `${label} ${size}: ef ${ef}: ANN recall@10 vs exact; top-100 p50 / p99`,
      value: `${(hit / truths.length).toFixed(3)}; ${percentile(ms, 0.5).toFixed(2)} / ${percentile(ms, 0.99).toFixed(2)}`,
      unit: 'ms',
    });
  }

  const rssAfter = process.memoryUsage().rss;
  pushRow(rows, {
    what: `${label} ${size}: process memory growth per 100k (ANN + exact copy + store cache)`,
    value: ((rssAfter - rssBefore) / 2 ** 20) * (100_000 / size),
    unit: 'MiB',
  });
  if (db.startsWith('mysql:') && maria) {
    // InnoDB's own figure (data + indexes of the database's tables) plus the local HNSW cache file.
    const conn = await mysql.createConnection({ uri: db });
    await conn.query('ANALYZE TABLE images, features, neighbours');
    const [[row]] = await conn.query(
      'SELECT SUM(data_length + index_length) AS bytes FROM information_schema.tables WHERE table_schema = DATABASE()',
    );
    await conn.end();
    const bytes = Number(row.bytes) + (await stat(annFile)).size;
    pushRow(rows, {
      what: `${label} ${size}: disk per 100k (InnoDB tables + HNSW file, before neighbour lists)`,
      value: (bytes / 2 ** 20) * (100_000 / size),
      unit: 'MiB',
    });
  }
  if (!db.startsWith('mysql:')) {
    const bytes =
      (await stat(db)).size +
      (await stat(annFile)).size +
      (await stat(`${db}-wal`).catch(() => ({ size: 0 }))).size;
    pushRow(rows, {
      what: `${label} ${size}: disk per 100k (database + HNSW file, before neighbour lists)`,
      value: (bytes / 2 ** 20) * (100_000 / size),
      unit: 'MiB',
    });
  }
  if (!parts.has('neighbours')) {
    await store.close();
    return;
  }
  started = performance.now();
  const nb = await computeNeighbours(store, ann, { k: 100 });
  const nbSeconds = (performance.now() - started) / 1000;
  pushRow(rows, {
    what: `${label} ${size}: neighbours --k 100 (${nb.computed} lists)`,
    value: nbSeconds,
    unit: 's',
  });
  pushRow(rows, {
    what: `${label} ${size}: neighbours: search loop waiting for store writes (ef ${ann.efFor(101)})`,
    value: nb.writeWaitSeconds,
    unit: 's',
  });
  pushRow(rows, {
    what: `${label} ${size}: neighbours --k 100 extrapolated to 250,000`,
    value: (nbSeconds * 250_000) / size / 60,
    unit: 'min',
  });
  await store.close();
}

/**
 * Index build on real photos (pimmi), against the decode + inference ceiling measured in the same run, and
 * where the time went. Returns the path of the SQLite index (its vectors are the synthetic centres).
 */
async function build(set, embedder, tmp, rows, notes, maria) {
  const files = set.files.filter((f) => !set.excluded.has(f));
  const ceiling = await measureCeiling(
    files.slice(0, 160).map((f) => path.join(set.dir, f)),
    process.env.MODELS_DIR ?? 'models',
  );
  pushRow(rows, {
    what: `decode + inference ceiling (${ceiling.cores} cores × 1 thread, 160 pimmi photos)`,
    value: ceiling.ceiling,
    unit: 'images/s',
  });
  const db = path.join(tmp, 'pimmi-build.db');
  const stores = [['SQLite', db]];
  if (maria) stores.push(['MariaDB', await maria.createDatabase('photos')]);
  for (const [label, location] of stores) {
    const store = await openStore(location);
    const started = performance.now();
    const report = await indexFolder(store, embedder, set.dir, { files });
    const wall = (performance.now() - started) / 1000;
    await store.close();
    pushRow(rows, {
      what: `index build, pimmi (${report.embedded} photos, ${label})`,
      value: report.imagesPerSecond,
      unit: 'images/s',
    });
    pushRow(rows, {
      what: `index build ${label} / ceiling (same run)`,
      value: report.imagesPerSecond / ceiling.ceiling,
      unit: '',
    });
    const t = report.timings;
    const perImage = (seconds) => ((seconds * 1000) / report.embedded).toFixed(2);
    pushRow(rows, {
      what: `index build ${label}: ms per image — workers decode+prep / inference; main hash / store writes; wall`,
      value: `${perImage(t.workerPrep)} / ${perImage(t.workerInfer)}; ${perImage(t.hash)} / ${perImage(t.write)}; ${perImage(wall)}`,
      unit: 'ms',
    });
  }
  notes.push(
    `ceiling: ${ceiling.msPerImage.toFixed(1)} ms per image on one thread (read + decode + view + inference, chunks of 16)`,
  );
  return db;
}

export async function run() {
  const rows = [];
  const notes = [
    `sizes ${sizes.join(', ')} (FRAMESIFT_BENCH_SEARCH_SIZES), MariaDB ${mariaSizes.join(', ') || 'none'}; parts ${[...parts].join(', ')}`,
  ];
  const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-bench-search-'));
  const embedder = await startPhotoEmbedder({ modelsDir: process.env.MODELS_DIR ?? 'models' });
  let maria;
  try {
    const sets = loadSets().filter((s) => s.name === 'pimmi' || s.name === 'caltech-resize');
    const pimmiSet = sets.find((s) => s.name === 'pimmi');
    if (!mariadbMissing()) maria = await startMariaDb();
    else notes.push(`MariaDB skipped: ${mariadbMissing()}`);
    let centresDb;
    if (parts.has('quality')) {
      for (const set of sets) await quality(set, embedder, tmp, rows, notes);
      centresDb = path.join(tmp, 'pimmi.db');
    }
    if (parts.has('build')) centresDb = await build(pimmiSet, embedder, tmp, rows, notes, maria);
    else if (!centresDb && parts.has('synthetic')) {
      // Only the centres are needed: index pimmi into SQLite, no ceiling, no MariaDB build.
      centresDb = path.join(tmp, 'pimmi-centres.db');
      const store = await openStore(centresDb);
      await indexFolder(store, embedder, pimmiSet.dir, {
        files: pimmiSet.files.filter((f) => !pimmiSet.excluded.has(f)),
      });
      await store.close();
    }
    await embedder.close();

    if (parts.has('synthetic')) {
      // Real pimmi embeddings are the centres of the synthetic vectors. MariaDB first: its sizes are the
      // smaller ones, so its figures are in before a long SQLite run.
      const pimmi = await openStore(centresDb);
      const centres = [];
      await pimmi.scanVectors((_, v) => centres.push(v));
      const model = await pimmi.model();
      await pimmi.close();
      if (maria) {
        for (const size of mariaSizes) {
          const url = await maria.createDatabase(`synthetic${size}`);
          await synthetic(
            url,
            'MariaDB',
            size,
            centres,
            model,
            rows,
            path.join(tmp, `maria-${size}.hnsw`),
            maria,
          );
        }
      }
      for (const size of sizes) {
        const db = path.join(tmp, `synthetic-${size}.db`);
        await synthetic(db, 'SQLite', size, centres, model, rows, `${db}.hnsw`);
        await rm(db, { force: true });
        await rm(`${db}.hnsw`, { force: true });
      }
    }
  } finally {
    await embedder.close().catch(() => undefined);
    await maria?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  return { name: 'search', rows, notes };
}
