/**
 * One test suite, two real databases: the SQLite store in a temp file and the MariaDB store on a MariaDB
 * server these tests start themselves (tests/helpers/mariadb.ts). Both must behave the same.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import {
  AnnIndex,
  DEFAULT_HNSW,
  ModelMismatchError,
  SCHEMA_VERSION,
  ExactIndex,
  Searcher,
  computeNeighbours,
  openStore,
  type ImageWrite,
  type ModelStamp,
  type SearchStore,
} from '../../../src/search/index.js';
import { itOn, searchBackends } from '../../helpers/search-backends.js';

const MODEL: ModelStamp = { name: 'test-model', file: 'test.onnx', sha256: 'a'.repeat(64), dimension: 16 };

/** A deterministic pseudo-random vector (xorshift), so failures reproduce. */
function vectorOf(seed: number, dimension = MODEL.dimension): Float32Array {
  let x = seed * 2654435761 + 1;
  const v = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = ((x >>> 0) / 2 ** 32) * 2 - 1;
  }
  return v;
}

function image(p: string, seed: number): ImageWrite {
  return {
    path: p,
    size: 100 + seed,
    sha256: String(seed).padStart(64, '0'),
    mtimeMs: 1_700_000_000_000 + seed,
    width: 10,
    height: 20,
    vector: vectorOf(seed),
  };
}

const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-store-'));
const backends = searchBackends(tmp);

beforeAll(async () => {
  await backends.start();
}, 120_000);

afterAll(async () => {
  await backends.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe.each(backends.list)('$name store', (backend) => {
  const run = itOn(backend);
  let n = 0;
  const fresh = async (): Promise<{ db: string; store: SearchStore }> => {
    const db = await backend.create(`t${++n}`);
    return { db, store: await openStore(db) };
  };

  run('starts empty at the current schema version and records one model', async () => {
    const { store } = await fresh();
    try {
      expect(await store.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(await store.model()).toBeUndefined();
      expect(await store.count()).toBe(0);
      expect(await store.revision()).toBe(0);
      await store.ensureModel(MODEL);
      await store.ensureModel({ ...MODEL, name: 'renamed copy' }); // same sha256 and size: the same model
      expect(await store.model()).toEqual(MODEL);
      const other = { ...MODEL, name: 'other', sha256: 'b'.repeat(64) };
      await expect(store.ensureModel(other)).rejects.toThrow(ModelMismatchError);
      await expect(store.ensureModel(other)).rejects.toThrow(/re-index/);
    } finally {
      await store.close();
    }
  });

  run('writes images with their vectors in one transaction; a rewrite keeps the id', async () => {
    const { store } = await fresh();
    try {
      const ids = await store.write([image('/photos/a.jpg', 1), image('/photos/b.jpg', 2)]);
      expect(ids).toHaveLength(2);
      expect(new Set(ids).size).toBe(2);
      expect(await store.revision()).toBe(1);
      const a = await store.image(ids[0]!);
      expect(a).toMatchObject({
        id: ids[0],
        path: '/photos/a.jpg',
        size: 101,
        width: 10,
        height: 20,
        rev: 1,
      });
      expect(a!.mtimeMs).toBe(1_700_000_000_001);
      expect(Array.from((await store.vector(ids[1]!))!)).toEqual(Array.from(vectorOf(2)));

      const [again] = await store.write([{ ...image('/photos/a.jpg', 7) }]);
      expect(again).toBe(ids[0]);
      expect(await store.count()).toBe(2);
      expect((await store.image(ids[0]!))!.rev).toBe(2);
      expect(Array.from((await store.vector(ids[0]!))!)).toEqual(Array.from(vectorOf(7)));

      // A failing batch leaves nothing behind (the second row breaks NOT NULL).
      const bad = [
        image('/photos/c.jpg', 3),
        { ...image('/photos/d.jpg', 4), sha256: null as unknown as string },
      ];
      await expect(store.write(bad)).rejects.toThrow();
      expect(await store.count()).toBe(2);
      expect(await store.revision()).toBe(2);
      expect((await store.files()).map((f) => f.path)).not.toContain('/photos/c.jpg');
    } finally {
      await store.close();
    }
  });

  run('lists the files below a folder (not its siblings; LIKE wildcards are literal)', async () => {
    const { store } = await fresh();
    try {
      await store.write([
        image('/data/cam_1/x.jpg', 1),
        image('/data/cam_1/sub/y.jpg', 2),
        image('/data/cam_10/z.jpg', 3),
        image('/data/camX1/w.jpg', 4),
        image('/data/100%/v.jpg', 5),
      ]);
      const paths = async (root?: string) => (await store.files(root)).map((f) => f.path).sort();
      expect(await paths('/data/cam_1')).toEqual(['/data/cam_1/sub/y.jpg', '/data/cam_1/x.jpg']);
      expect(await paths('/data/100%')).toEqual(['/data/100%/v.jpg']);
      expect(await paths()).toHaveLength(5);
      const [f] = await store.files('/data/cam_10');
      expect(f).toMatchObject({ path: '/data/cam_10/z.jpg', size: 103, sha256: '3'.padStart(64, '0') });
    } finally {
      await store.close();
    }
  });

  run('removes images with their vectors and lists, and remembers what it removed', async () => {
    const { store } = await fresh();
    try {
      const ids = await store.write([image('/p/1.jpg', 1), image('/p/2.jpg', 2), image('/p/3.jpg', 3)]);
      const rev = await store.revision();
      await store.putNeighbours(
        ids.map((id) => ({
          id,
          rev,
          ids: Int32Array.from(ids.filter((o) => o !== id)),
          distances: Float32Array.from([0.1, 0.2]),
        })),
        { k: 2, rev },
      );
      await store.remove([ids[1]!]);
      expect(await store.image(ids[1]!)).toBeUndefined();
      expect(await store.vector(ids[1]!)).toBeUndefined();
      expect(await store.neighbours(ids[1]!)).toBeUndefined();
      expect(await store.removedSince(rev)).toEqual([ids[1]]);
      expect(await store.removedSince(rev + 1)).toEqual([]);
      expect(await store.count()).toBe(2);
      // A list for an image removed meanwhile is not stored.
      await store.putNeighbours([
        { id: ids[1]!, rev, ids: Int32Array.from([ids[0]!]), distances: Float32Array.from([0.5]) },
      ]);
      expect(await store.neighbours(ids[1]!)).toBeUndefined();
      const lists: number[] = [];
      await store.scanNeighbours((l) => lists.push(l.id));
      expect(lists).toEqual([ids[0], ids[2]]);
      const list = await store.neighbours(ids[0]!);
      expect(Array.from(list!.ids)).toEqual([ids[1], ids[2]]);
      expect(list!.distances[1]).toBeCloseTo(0.2, 6);
      expect(await store.neighbourState()).toEqual({ k: 2, rev });
    } finally {
      await store.close();
    }
  });

  run('scans vectors written after a revision; touch changes mtime without a new revision', async () => {
    const { store } = await fresh();
    try {
      const first = await store.write([image('/s/1.jpg', 1), image('/s/2.jpg', 2)]);
      const rev = await store.revision();
      const second = await store.write([image('/s/3.jpg', 3)]);
      const seen: Array<[number, number]> = [];
      await store.scanVectors((id, v, r) => seen.push([id, r]), rev);
      expect(seen).toEqual([[second[0]!, rev + 1]]);
      const all: number[] = [];
      await store.scanVectors((id) => all.push(id));
      expect(all).toEqual([...first, ...second]);
      await store.touch([{ id: first[0]!, mtimeMs: 5 }]);
      expect((await store.image(first[0]!))!.mtimeMs).toBe(5);
      expect(await store.revision()).toBe(rev + 1);
    } finally {
      await store.close();
    }
  });

  run('reads the records of many ids in one call; video frames keep their video and time', async () => {
    const { store } = await fresh();
    try {
      const frames = [0, 20_000, 40_000].map((timeMs, i) => ({
        ...image(`/v/street.avi#t=${(timeMs / 1000).toFixed(3)}`, 10 + i),
        video: { path: '/v/street.avi', timeMs },
      }));
      const ids = await store.write([image('/v/photo.jpg', 1), ...frames]);
      const records = await store.images([ids[3]!, 999_999, ids[0]!, ids[1]!]);
      expect([...records.keys()].sort((a, b) => a - b)).toEqual([ids[0], ids[1], ids[3]]);
      expect(records.get(ids[0]!)!.video).toBeUndefined();
      expect(records.get(ids[3]!)).toMatchObject({
        path: '/v/street.avi#t=40.000',
        video: { path: '/v/street.avi', timeMs: 40_000 },
        mtimeMs: 1_700_000_000_012,
      });
      expect(await store.images([])).toEqual(new Map());
      expect((await store.files('/v')).filter((f) => f.video).map((f) => f.video!.timeMs)).toEqual([
        0, 20_000, 40_000,
      ]);
    } finally {
      await store.close();
    }
  });

  run('migrates a schema-1 database (before video frames) on open, keeping its images', async () => {
    const { db, store } = await fresh();
    const [id] = await store.write([image('/m/1.jpg', 1)]);
    await store.close();
    await backend.exec(
      db,
      backend.name === 'sqlite'
        ? "DROP INDEX images_video; ALTER TABLE images DROP COLUMN video; ALTER TABLE images DROP COLUMN time_ms; UPDATE meta SET value = '1' WHERE key = 'schema_version'"
        : 'ALTER TABLE images DROP KEY images_video, DROP KEY images_path_prefix, DROP COLUMN video, DROP COLUMN time_ms',
    );
    if (backend.name === 'mariadb')
      await backend.exec(db, "UPDATE meta SET value = '1' WHERE `key` = 'schema_version'");
    const again = await openStore(db);
    try {
      expect(await again.schemaVersion()).toBe(SCHEMA_VERSION);
      expect(await again.image(id!)).toMatchObject({ path: '/m/1.jpg', size: 101 });
      const [frame] = await again.write([
        { ...image('/m/clip.mp4#t=1.000', 2), video: { path: '/m/clip.mp4', timeMs: 1000 } },
      ]);
      expect((await again.image(frame!))!.video).toEqual({ path: '/m/clip.mp4', timeMs: 1000 });
    } finally {
      await again.close();
    }
  });

  run('persists across reopening; refuses a schema from a newer framesift', async () => {
    const { db, store } = await fresh();
    await store.ensureModel(MODEL);
    const [id] = await store.write([image('/r/1.jpg', 1)]);
    await store.close();
    const again = await openStore(db);
    try {
      expect(await again.model()).toEqual(MODEL);
      expect((await again.image(id!))!.path).toBe('/r/1.jpg');
      expect(await again.schemaVersion()).toBe(SCHEMA_VERSION);
    } finally {
      await again.close();
    }
    await backend.exec(
      db,
      "UPDATE meta SET value = '99' WHERE `key` = 'schema_version'".replace(
        /`/g,
        backend.name === 'sqlite' ? '"' : '`',
      ),
    );
    await expect(openStore(db)).rejects.toThrow(/schema version 99 was written by a newer framesift/);
  });

  run(
    'ANN search agrees with exact search, persists beside the store and catches up with changes',
    async () => {
      const { store } = await fresh();
      const annFile = path.join(tmp, `${backend.name}-${n}.hnsw`);
      try {
        await store.ensureModel(MODEL);
        const writes = Array.from({ length: 600 }, (_, i) => image(`/ann/${i}.jpg`, i + 1));
        const ids: number[] = [];
        for (let i = 0; i < writes.length; i += 100)
          ids.push(...(await store.write(writes.slice(i, i + 100))));
        const searcher = new Searcher(store, annFile);
        let agree = 0;
        for (const id of ids.slice(0, 50)) {
          const exact = await searcher.searchId(id, { k: 10, exact: true });
          const ann = await searcher.searchId(id, { k: 10 });
          expect(exact[0]!.id).toBe(id);
          expect(exact[0]!.distance).toBeLessThan(1e-6);
          expect(ann[0]!.id).toBe(id);
          const truth = new Set(exact.map((h) => h.id));
          agree += ann.filter((h) => truth.has(h.id)).length;
        }
        expect(agree / 500).toBeGreaterThanOrEqual(0.99);
        expect(existsSync(annFile)).toBe(true);

        // Changes after the graph was saved: a removal, a rewrite and a new image are replayed on open.
        await store.remove([ids[0]!]);
        await store.write([{ ...image('/ann/1.jpg', 9999) }, image('/ann/new.jpg', 5000)]);
        const ann = await AnnIndex.open(store, annFile, DEFAULT_HNSW);
        expect(ann.rev).toBe(await store.revision());
        expect(ann.search(vectorOf(1), 5).map((h) => h.id)).not.toContain(ids[0]);
        const rewritten = ann.search(vectorOf(9999), 1)[0]!;
        expect(rewritten.id).toBe(ids[1]);
        expect(rewritten.distance).toBeLessThan(1e-5);
        const [newest] = (await store.files('/ann/new.jpg')).map((f) => f.id);
        expect(ann.search(vectorOf(5000), 1)[0]!.id).toBe(newest);

        // A missing graph is rebuilt; a graph of another model is not used.
        await rm(annFile);
        const rebuilt = await AnnIndex.open(store, annFile, DEFAULT_HNSW);
        expect(rebuilt.size).toBe(await store.count());
        expect(rebuilt.search(vectorOf(5000), 1)[0]!.id).toBe(newest);
      } finally {
        await store.close();
      }
    },
  );
  run(
    'neighbour lists match an exact search, and stay so (recall ≥ 0.99) incrementally after adds and removals',
    async () => {
      const { store } = await fresh();
      const annFile = path.join(tmp, `${backend.name}-nb-${n}.hnsw`);
      const k = 5;
      /** Every stored list against an exact search of the store. */
      const check = async () => {
        const exact = await ExactIndex.load(store, MODEL.dimension);
        let lists = 0;
        await store.scanNeighbours(() => lists++);
        expect(lists).toBe(await store.count());
        for (const f of await store.files()) {
          const list = await store.neighbours(f.id);
          const truth = exact
            .search((await store.vector(f.id))!, k + 1)
            .filter((h) => h.id !== f.id)
            .slice(0, k);
          expect(Array.from(list!.ids)).toEqual(truth.map((h) => h.id));
        }
      };
      try {
        await store.ensureModel(MODEL);
        const ids = await store.write(Array.from({ length: 120 }, (_, i) => image(`/nb/${i}.jpg`, i + 1)));
        // Batches of 32: several writes, each overlapping the next batch's searches.
        const first = await computeNeighbours(store, await AnnIndex.open(store, annFile), {
          k,
          batchSize: 32,
        });
        expect(first).toMatchObject({ k, computed: 120, full: true, total: 120 });
        await check();
        const again = await computeNeighbours(store, await AnnIndex.open(store, annFile), { k });
        expect(again).toMatchObject({ computed: 0, updated: 0, full: false });

        // Two new images (one a near copy of image 0) and one removal.
        await store.write([
          { ...image('/nb/copy-of-0.jpg', 1), vector: vectorOf(1).map((v, i) => v + (i === 0 ? 0.01 : 0)) },
          image('/nb/new.jpg', 777),
        ]);
        await store.remove([ids[5]!]);
        const incremental = await computeNeighbours(store, await AnnIndex.open(store, annFile), {
          k,
          batchSize: 16,
        });
        expect(incremental.full).toBe(false);
        expect(incremental.computed).toBeLessThan(60);
        expect(incremental.updated).toBeGreaterThan(0);
        await check();
        const list = await store.neighbours(ids[0]!);
        const [copy] = (await store.files('/nb/copy-of-0.jpg')).map((f) => f.id);
        expect(list!.ids[0]).toBe(copy);

        // Another k: everything again.
        const other = await computeNeighbours(store, await AnnIndex.open(store, annFile), { k: 3 });
        expect(other).toMatchObject({ full: true, computed: 121 });
      } finally {
        await store.close();
      }
    },
  );
});
