/**
 * The embedded store: one SQLite file (better-sqlite3, WAL mode). better-sqlite3 is synchronous; the
 * store's interface is async so that it matches the MariaDB store.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { UserError, errorMessage } from '../common/errors.js';
import {
  ModelMismatchError,
  SCHEMA_VERSION,
  bytesToVector,
  checkSchemaVersion,
  imageColumns,
  int32ToBytes,
  pathPrefixPattern,
  sameModel,
  toNeighbourList,
  toStoredImage,
  vectorToBytes,
  type ImageRow,
  type ImageWrite,
  type NeighbourRow,
  type ModelStamp,
  type NeighbourList,
  type NeighbourState,
  type SearchStore,
  type StoredFile,
  type StoredImage,
} from './store.js';

/** Vectors per page of `scanVectors`. */
const SCAN_PAGE = 1000;

/** DDL per schema version: migrations[v - 1] brings a database from version v - 1 to v. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE images (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     path TEXT NOT NULL UNIQUE,
     size INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     mtime_ms REAL NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     rev INTEGER NOT NULL,
     indexed_at TEXT NOT NULL);
   CREATE INDEX images_rev ON images (rev);
   CREATE TABLE features (image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE, vector BLOB NOT NULL);
   CREATE TABLE neighbours (image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
     rev INTEGER NOT NULL, ids BLOB NOT NULL, distances BLOB NOT NULL);
   CREATE TABLE removed (image_id INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
   CREATE INDEX removed_rev ON removed (rev);`,
  `ALTER TABLE images ADD COLUMN video TEXT;
   ALTER TABLE images ADD COLUMN time_ms REAL;
   CREATE INDEX images_video ON images (video);`,
];

const IMAGE_COLUMNS = imageColumns('mtime_ms');

export class SqliteStore implements SearchStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  private constructor(readonly location: string) {
    try {
      mkdirSync(path.dirname(path.resolve(location)), { recursive: true });
      this.db = new Database(location);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 10000');
    } catch (err) {
      throw new UserError(
        `--db ${location}: expected a writable SQLite database file (${errorMessage(err)})`,
      );
    }
  }

  static async open(file: string): Promise<SqliteStore> {
    const store = new SqliteStore(file);
    try {
      store.migrate();
    } catch (err) {
      store.db.close();
      if (err instanceof UserError) throw err;
      throw new UserError(`--db ${file}: expected a framesift index database (${errorMessage(err)})`);
    }
    return store;
  }

  private metaValue(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  private setMeta(key: string, value: string | number): void {
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, String(value));
  }

  private migrate(): void {
    const hasMeta = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
      .get();
    const current = hasMeta ? Number(this.metaValue('schema_version') ?? 0) : 0;
    checkSchemaVersion(this.location, current);
    if (current === SCHEMA_VERSION) return;
    this.db.transaction(() => {
      for (let v = current; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v]!);
      this.setMeta('schema_version', SCHEMA_VERSION);
      if (current === 0) this.setMeta('rev', 0);
    })();
  }

  /** Next revision inside the caller's transaction. */
  private bumpRevision(): number {
    const rev = Number(this.metaValue('rev') ?? 0) + 1;
    this.setMeta('rev', rev);
    return rev;
  }

  async schemaVersion(): Promise<number> {
    return Number(this.metaValue('schema_version') ?? 0);
  }

  async model(): Promise<ModelStamp | undefined> {
    const json = this.metaValue('model');
    return json ? (JSON.parse(json) as ModelStamp) : undefined;
  }

  async ensureModel(stamp: ModelStamp): Promise<void> {
    this.db.transaction(() => {
      const json = this.metaValue('model');
      if (json) {
        const stored = JSON.parse(json) as ModelStamp;
        if (!sameModel(stored, stamp)) throw new ModelMismatchError(this.location, stored, stamp);
        return;
      }
      this.setMeta('model', JSON.stringify(stamp));
    })();
  }

  async revision(): Promise<number> {
    return Number(this.metaValue('rev') ?? 0);
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
  }

  async files(root?: string): Promise<StoredFile[]> {
    const rows = (
      root === undefined
        ? this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM images ORDER BY id`).all()
        : this.db
            .prepare(
              `SELECT ${IMAGE_COLUMNS} FROM images WHERE path = ? OR path LIKE ? ESCAPE '\\' ORDER BY id`,
            )
            .all(root, pathPrefixPattern(root))
    ) as ImageRow[];
    return rows.map(toStoredImage);
  }

  async write(images: ImageWrite[], removeIds: number[] = []): Promise<number[]> {
    if (images.length === 0 && removeIds.length === 0) return [];
    const upsert = this.db.prepare(
      `INSERT INTO images (path, size, sha256, mtime_ms, width, height, rev, indexed_at, video, time_ms)
       VALUES (@path, @size, @sha256, @mtimeMs, @width, @height, @rev, @indexedAt, @video, @timeMs)
       ON CONFLICT (path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
         mtime_ms = excluded.mtime_ms, width = excluded.width, height = excluded.height,
         rev = excluded.rev, indexed_at = excluded.indexed_at, video = excluded.video, time_ms = excluded.time_ms
       RETURNING id`,
    );
    const feature = this.db.prepare(
      'INSERT INTO features (image_id, vector) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET vector = excluded.vector',
    );
    return this.db.transaction(() => {
      const rev = this.bumpRevision();
      this.removeAt(removeIds, rev);
      const indexedAt = new Date().toISOString();
      return images.map((image) => {
        const { id } = upsert.get({
          path: image.path,
          size: image.size,
          sha256: image.sha256,
          mtimeMs: image.mtimeMs,
          width: image.width,
          height: image.height,
          rev,
          indexedAt,
          video: image.video?.path ?? null,
          timeMs: image.video?.timeMs ?? null,
        }) as { id: number };
        feature.run(id, vectorToBytes(image.vector));
        return id;
      });
    })();
  }

  async touch(files: Array<{ id: number; mtimeMs: number }>): Promise<void> {
    const update = this.db.prepare('UPDATE images SET mtime_ms = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const f of files) update.run(f.mtimeMs, f.id);
    })();
  }

  /** Deletes images (vectors and lists cascade) and leaves tombstones, inside the caller's transaction. */
  private removeAt(ids: number[], rev: number): void {
    const del = this.db.prepare('DELETE FROM images WHERE id = ?');
    const tomb = this.db.prepare(
      'INSERT INTO removed (image_id, rev) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET rev = excluded.rev',
    );
    for (const id of ids) {
      del.run(id);
      tomb.run(id, rev);
    }
  }

  async remove(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    this.db.transaction(() => this.removeAt(ids, this.bumpRevision()))();
  }

  async image(id: number): Promise<StoredImage | undefined> {
    const row = this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE id = ?`).get(id) as
      | ImageRow
      | undefined;
    return row && toStoredImage(row);
  }

  async images(ids: number[]): Promise<Map<number, StoredImage>> {
    const out = new Map<number, StoredImage>();
    // One statement per search: the ids go in as a JSON array (no statement per list length).
    const rows = this.db
      .prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(ids)) as ImageRow[];
    for (const row of rows) out.set(Number(row.id), toStoredImage(row));
    return out;
  }

  async vector(id: number): Promise<Float32Array | undefined> {
    const row = this.db.prepare('SELECT vector FROM features WHERE image_id = ?').get(id) as
      | { vector: Buffer }
      | undefined;
    return row && bytesToVector(row.vector);
  }

  async scanVectors(
    visit: (id: number, vector: Float32Array, rev: number) => void,
    sinceRev = 0,
  ): Promise<void> {
    const page = this.db.prepare(
      'SELECT f.image_id AS id, f.vector AS vector, i.rev AS rev FROM features f JOIN images i ON i.id = f.image_id WHERE i.rev > ? AND f.image_id > ? ORDER BY f.image_id LIMIT ?',
    );
    // Keyset pages with a turn of the event loop between them: a server (or a test runner) stays responsive
    // while a large graph is built from the vectors (each page is visited in one synchronous pass).
    for (let after = 0; ; ) {
      const rows = page.all(sinceRev, after, SCAN_PAGE) as Array<{ id: number; vector: Buffer; rev: number }>;
      for (const row of rows) visit(row.id, bytesToVector(row.vector), row.rev);
      if (rows.length < SCAN_PAGE) return;
      after = rows[rows.length - 1]!.id;
      await nextTurn();
    }
  }

  async removedSince(sinceRev: number): Promise<number[]> {
    return (
      this.db
        .prepare('SELECT image_id AS id FROM removed WHERE rev > ? ORDER BY image_id')
        .all(sinceRev) as Array<{
        id: number;
      }>
    ).map((r) => r.id);
  }

  async neighbours(id: number): Promise<NeighbourList | undefined> {
    const row = this.db.prepare('SELECT * FROM neighbours WHERE image_id = ?').get(id) as
      | NeighbourRow
      | undefined;
    return row && toNeighbourList(row);
  }

  async scanNeighbours(visit: (list: NeighbourList) => void): Promise<void> {
    const rows = this.db
      .prepare('SELECT * FROM neighbours ORDER BY image_id')
      .iterate() as IterableIterator<NeighbourRow>;
    for (const row of rows) visit(toNeighbourList(row));
  }

  async putNeighbours(lists: NeighbourList[], state?: NeighbourState): Promise<void> {
    const put = this.db.prepare(
      `INSERT INTO neighbours (image_id, rev, ids, distances) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM images WHERE id = ?)
       ON CONFLICT (image_id) DO UPDATE SET rev = excluded.rev, ids = excluded.ids, distances = excluded.distances`,
    );
    this.db.transaction(() => {
      for (const l of lists) put.run(l.id, l.rev, int32ToBytes(l.ids), vectorToBytes(l.distances), l.id);
      if (state) {
        this.setMeta('neighbours_k', state.k);
        this.setMeta('neighbours_rev', state.rev);
      }
    })();
  }

  async neighbourState(): Promise<NeighbourState> {
    return {
      k: Number(this.metaValue('neighbours_k') ?? 0),
      rev: Number(this.metaValue('neighbours_rev') ?? 0),
    };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
