/**
 * Indexing real photos with the real embedder (MobileNetV3-Small from models/), on both stores: searching
 * a caltech-resize member returns its group on top (itself first at distance ~0); re-indexing after
 * adding, deleting, changing and touching files does only what changed; corrupt files are listed; a run
 * killed mid-way leaves a consistent index that the next run completes; vectors of another model are refused.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startPhotoEmbedder, type PhotoEmbedder } from '../../../src/commands/photo-embedder.js';
import { listImageFiles } from '../../../src/dedupe/index.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { ModelMismatchError, Searcher, indexFolder, openStore } from '../../../src/search/index.js';
import { itOn, searchBackends } from '../../helpers/search-backends.js';

const PHOTOS = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos');
const CALTECH = path.join(PHOTOS, 'caltech-resize');
const groups = (
  JSON.parse(await readFile(path.join(CALTECH, 'ground_truth.json'), 'utf8')) as { groups: string[][] }
).groups;
const caltechFiles = (await readdir(CALTECH)).filter((f) => f.endsWith('.jpg')).sort();

const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-index-'));
const backends = searchBackends(tmp);
let embedder: PhotoEmbedder;

beforeAll(async () => {
  embedder = await startPhotoEmbedder({ modelsDir: path.join(PROJECT_ROOT, 'models'), workers: 2 });
  await backends.start();
}, 120_000);

afterAll(async () => {
  await embedder?.close();
  await backends.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function copyCaltech(dir: string, copies = 1): Promise<void> {
  for (let c = 0; c < copies; c++) {
    const target = copies === 1 ? dir : path.join(dir, `copy${c}`);
    await mkdir(target, { recursive: true });
    for (const f of caltechFiles) await copyFile(path.join(CALTECH, f), path.join(target, f));
  }
}

/** Runs `framesift index` as a child process and kills it (SIGKILL) after its first committed batch. */
function killAfterFirstBatch(dir: string, db: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(PROJECT_ROOT, 'dist', 'cli.js'), 'index', dir, '--db', db, '--workers', '1'],
      {
        env: { ...process.env, LOG_LEVEL: 'debug', MODELS_DIR: path.join(PROJECT_ROOT, 'models') },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('index batch committed') && child.exitCode === null) child.kill('SIGKILL');
    });
    child.once('exit', (code, signal) =>
      signal === 'SIGKILL'
        ? resolve()
        : reject(new Error(`index exited (${code}) before it was killed:\n${stderr.slice(-2000)}`)),
    );
  });
}

describe.each(backends.list)('index on $name', (backend) => {
  const run = itOn(backend);

  run('finds each caltech-resize group on top, itself first; re-indexes only what changed', async () => {
    const dir = path.join(tmp, `${backend.name}-photos`);
    await copyCaltech(dir);
    const db = await backend.create('groups');
    const store = await openStore(db);
    try {
      const first = await indexFolder(store, embedder, dir, { listFiles: listImageFiles });
      expect(first).toMatchObject({
        files: 82,
        added: 82,
        embedded: 82,
        removed: 0,
        unchanged: 0,
        total: 82,
      });
      expect(first.corrupt).toEqual([]);
      expect(await store.model()).toEqual(embedder.model);

      const searcher = new Searcher(store, path.join(tmp, `${backend.name}-groups.hnsw`));
      const idOf = new Map((await store.files(dir)).map((f) => [path.basename(f.path), f.id]));
      for (const group of groups) {
        for (const member of group) {
          for (const exact of [true, false]) {
            const hits = await searcher.searchId(idOf.get(member)!, { k: group.length, exact });
            expect(hits[0]!.id).toBe(idOf.get(member));
            expect(hits[0]!.distance).toBeLessThan(1e-5);
            expect(hits.map((h) => path.basename(h.image.path)).sort()).toEqual([...group].sort());
          }
        }
      }

      // Second run with nothing changed: nothing embedded.
      const again = await indexFolder(store, embedder, dir, { listFiles: listImageFiles });
      expect(again).toMatchObject({ unchanged: 82, embedded: 0, removed: 0, total: 82 });

      // Add one, delete one, change one, touch one (same bytes, new mtime), add a corrupt file.
      const added = path.join(dir, 'new', 'forest.jpg');
      await mkdir(path.dirname(added));
      await copyFile(
        path.join(
          PHOTOS,
          'imagehash',
          'forest',
          (await readdir(path.join(PHOTOS, 'imagehash', 'forest')))[0]!,
        ),
        added,
      );
      const deleted = caltechFiles[0]!;
      await unlink(path.join(dir, deleted));
      const changed = caltechFiles[1]!;
      const changedId = idOf.get(changed)!;
      await copyFile(path.join(CALTECH, caltechFiles[40]!), path.join(dir, changed));
      const touched = caltechFiles[2]!;
      await utimes(path.join(dir, touched), new Date(), new Date(Date.now() + 5000));
      await copyFile(
        path.join(PHOTOS, 'imagededup', 'mixed_images', 'ukbench09268_corrupt.jpg'),
        path.join(dir, 'broken.jpg'),
      );

      const third = await indexFolder(store, embedder, dir, { listFiles: listImageFiles });
      expect(third).toMatchObject({
        files: 83,
        added: 1,
        changed: 1,
        removed: 1,
        touched: 1,
        embedded: 2,
        unchanged: 79,
        total: 82,
      });
      expect(third.corrupt.map((c) => c.file)).toEqual(['broken.jpg']);
      expect(third.corrupt[0]!.reason).toMatch(/not a readable image/);
      expect(idOf.get(deleted)).toBeDefined();
      expect(await store.image(idOf.get(deleted)!)).toBeUndefined();
      // The changed file keeps its id and now has the vector of its new content.
      // (k 3: the set holds byte-identical copies, which tie at distance 0.)
      const twin = await searcher.searchId(changedId, { k: 3, exact: true });
      expect(twin[0]!.id).toBe(changedId);
      const source = twin.find((h) => h.id === idOf.get(caltechFiles[40]!));
      expect(source?.distance).toBeLessThan(1e-5);
      const forest = await searcher.searchVector(
        ((await embedder.embed([added]))[0] as { vector: Float32Array }).vector,
        { k: 1 },
      );
      expect(forest[0]!.image.path).toBe(added);
    } finally {
      await store.close();
    }
  });

  run('a run killed mid-way leaves a consistent index; the next run completes it', async () => {
    const dir = path.join(tmp, `${backend.name}-resume`);
    await copyCaltech(dir, 3);
    const db = await backend.create('resume');
    await killAfterFirstBatch(dir, db);
    const store = await openStore(db);
    try {
      if (backend.name === 'sqlite') {
        const raw = new Database(db, { readonly: true });
        expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
        raw.close();
      }
      const committed = await store.count();
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(246);
      // Every committed image has its vector (image row and vector were one transaction).
      let vectors = 0;
      await store.scanVectors(() => vectors++);
      expect(vectors).toBe(committed);
      const resumed = await indexFolder(store, embedder, dir, { listFiles: listImageFiles });
      expect(resumed).toMatchObject({ unchanged: committed, added: 246 - committed, total: 246 });
    } finally {
      await store.close();
    }
  });

  run('refuses to mix vectors of another model, with a message that says to re-index', async () => {
    const dir = path.join(tmp, `${backend.name}-model`);
    await mkdir(dir);
    for (const f of caltechFiles.slice(0, 3)) await copyFile(path.join(CALTECH, f), path.join(dir, f));
    const db = await backend.create('model');
    let store = await openStore(db);
    await indexFolder(store, embedder, dir, { listFiles: listImageFiles });
    await store.close();
    // The index as another model (another sha256) would have left it.
    const stamp = JSON.stringify({ ...embedder.model, name: 'mobilenet-v2', sha256: 'f'.repeat(64) });
    const key = backend.name === 'sqlite' ? '"key"' : '`key`';
    await backend.exec(db, `UPDATE meta SET value = '${stamp}' WHERE ${key} = 'model'`);
    store = await openStore(db);
    try {
      await expect(indexFolder(store, embedder, dir, { listFiles: listImageFiles })).rejects.toThrow(
        ModelMismatchError,
      );
      const searcher = new Searcher(store, undefined);
      await expect(searcher.checkModel(embedder.model)).rejects.toThrow(
        /holds vectors of model mobilenet-v2 .* this run uses mobilenet-v3-small-075 .* re-index/,
      );
    } finally {
      await store.close();
    }
  });
});
