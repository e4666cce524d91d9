/**
 * The server store: MariaDB (or MySQL) through mysql2, selected with `--db mysql://user:pass@host:port/db`.
 * Tables for images, features and neighbours, as the archive service had; every write is one transaction.
 */
import mysql from 'mysql2/promise';
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

/** DDL statements per schema version: MIGRATIONS[v - 1] brings a database from version v - 1 to v. */
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE IF NOT EXISTS meta (\`key\` VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS images (
       id BIGINT AUTO_INCREMENT PRIMARY KEY,
       path TEXT NOT NULL,
       size BIGINT NOT NULL,
       sha256 CHAR(64) NOT NULL,
       mtime_us BIGINT NOT NULL,
       width INT NOT NULL,
       height INT NOT NULL,
       rev BIGINT NOT NULL,
       indexed_at VARCHAR(32) NOT NULL,
       UNIQUE KEY images_path (path) USING HASH,
       KEY images_rev (rev)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    `CREATE TABLE IF NOT EXISTS features (
       image_id BIGINT PRIMARY KEY,
       vector MEDIUMBLOB NOT NULL,
       FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
     ) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS neighbours (
       image_id BIGINT PRIMARY KEY,
       rev BIGINT NOT NULL,
       ids MEDIUMBLOB NOT NULL,
       distances MEDIUMBLOB NOT NULL,
       FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
     ) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS removed (image_id BIGINT PRIMARY KEY, rev BIGINT NOT NULL, KEY removed_rev (rev)) ENGINE=InnoDB`,
  ],
  [
    `ALTER TABLE images ADD COLUMN IF NOT EXISTS video TEXT NULL, ADD COLUMN IF NOT EXISTS time_ms BIGINT NULL,
       ADD KEY IF NOT EXISTS images_video (video(255)),
       ADD KEY IF NOT EXISTS images_path_prefix (path(255))`,
  ],
];

const IMAGE_COLUMNS = imageColumns('mtime_us / 1000');

/** mysql://user:pass@host:port/db → the same without the password (for messages and logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'mysql://…';
  }
}

export class MariaDbStore implements SearchStore {
  readonly kind = 'mariadb' as const;

  private constructor(
    private readonly pool: mysql.Pool,
    readonly location: string,
  ) {}

  static async open(url: string): Promise<MariaDbStore> {
    const location = redactUrl(url);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UserError(`--db ${location}: expected mysql://user:password@host:port/database`);
    }
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (!database) throw new UserError(`--db ${location}: expected a database name (mysql://…/<database>)`);
    const pool = mysql.createPool({
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decodeURIComponent(parsed.username) || 'root',
      password: decodeURIComponent(parsed.password),
      database,
      connectionLimit: 4,
      supportBigNumbers: true,
      bigNumberStrings: false,
      // Node's 30 s default would hide a dead server; fail fast and say so.
      connectTimeout: 10_000,
    });
    const store = new MariaDbStore(pool, location);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof UserError) throw err;
      throw new UserError(`--db ${location}: cannot open the index (${errorMessage(err)})`);
    }
    return store;
  }

  private async metaValue(
    key: string,
    conn: mysql.Pool | mysql.PoolConnection = this.pool,
  ): Promise<string | undefined> {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT value FROM meta WHERE `key` = ?', [key]);
    return rows[0]?.value as string | undefined;
  }

  private async setMeta(conn: mysql.PoolConnection, key: string, value: string | number): Promise<void> {
    await conn.query(
      'INSERT INTO meta (`key`, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)',
      [key, String(value)],
    );
  }

  private async transaction<T>(work: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  private async migrate(): Promise<void> {
    const [tables] = await this.pool.query<mysql.RowDataPacket[]>("SHOW TABLES LIKE 'meta'");
    const current = tables.length > 0 ? Number((await this.metaValue('schema_version')) ?? 0) : 0;
    checkSchemaVersion(this.location, current);
    if (current === SCHEMA_VERSION) return;
    // DDL commits implicitly in MariaDB; each step is idempotent (IF NOT EXISTS) so a crash mid-way reruns.
    const conn = await this.pool.getConnection();
    try {
      for (let v = current; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]!) await conn.query(sql);
      await conn.beginTransaction();
      if (current === 0) await conn.query("INSERT IGNORE INTO meta (`key`, value) VALUES ('rev', '0')");
      await this.setMeta(conn, 'schema_version', SCHEMA_VERSION);
      await conn.commit();
    } finally {
      conn.release();
    }
  }

  /** Next revision, with the meta row locked until the caller's transaction ends (writers serialise). */
  private async bumpRevision(conn: mysql.PoolConnection): Promise<number> {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT value FROM meta WHERE `key` = 'rev' FOR UPDATE",
    );
    const rev = Number(rows[0]?.value ?? 0) + 1;
    await this.setMeta(conn, 'rev', rev);
    return rev;
  }

  async schemaVersion(): Promise<number> {
    return Number((await this.metaValue('schema_version')) ?? 0);
  }

  async model(): Promise<ModelStamp | undefined> {
    const json = await this.metaValue('model');
    return json ? (JSON.parse(json) as ModelStamp) : undefined;
  }

  async ensureModel(stamp: ModelStamp): Promise<void> {
    await this.transaction(async (conn) => {
      // Lock the revision row so two first indexers cannot record two models.
      await conn.query("SELECT value FROM meta WHERE `key` = 'rev' FOR UPDATE");
      const json = await this.metaValue('model', conn);
      if (json) {
        const stored = JSON.parse(json) as ModelStamp;
        if (!sameModel(stored, stamp)) throw new ModelMismatchError(this.location, stored, stamp);
        return;
      }
      await this.setMeta(conn, 'model', JSON.stringify(stamp));
    });
  }

  async revision(): Promise<number> {
    return Number((await this.metaValue('rev')) ?? 0);
  }

  async count(): Promise<number> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM images');
    return Number(rows[0]!.n);
  }

  async files(root?: string): Promise<StoredFile[]> {
    const [rows] =
      root === undefined
        ? await this.pool.query<mysql.RowDataPacket[]>(`SELECT ${IMAGE_COLUMNS} FROM images ORDER BY id`)
        : await this.pool.query<mysql.RowDataPacket[]>(
            `SELECT ${IMAGE_COLUMNS} FROM images WHERE path = ? OR path LIKE ? ESCAPE '\\\\' ORDER BY id`,
            [root, pathPrefixPattern(root)],
          );
    return (rows as ImageRow[]).map(toStoredImage);
  }

  async write(images: ImageWrite[], removeIds: number[] = []): Promise<number[]> {
    if (images.length === 0 && removeIds.length === 0) return [];
    return this.transaction(async (conn) => {
      const rev = await this.bumpRevision(conn);
      await this.removeAt(conn, removeIds, rev);
      const indexedAt = new Date().toISOString();
      const ids: number[] = [];
      // Multi-row statements (a chunk stays far below max_allowed_packet): one round trip for the rows,
      // one for their ids, one for the vectors.
      for (let start = 0; start < images.length; start += 500) {
        const chunk = images.slice(start, start + 500);
        await conn.query(
          `INSERT INTO images (path, size, sha256, mtime_us, width, height, rev, indexed_at, video, time_ms) VALUES ?
           ON DUPLICATE KEY UPDATE size = VALUES(size), sha256 = VALUES(sha256), mtime_us = VALUES(mtime_us),
             width = VALUES(width), height = VALUES(height), rev = VALUES(rev), indexed_at = VALUES(indexed_at),
             video = VALUES(video), time_ms = VALUES(time_ms)`,
          [
            chunk.map((image) => [
              image.path,
              image.size,
              image.sha256,
              Math.round(image.mtimeMs * 1000),
              image.width,
              image.height,
              rev,
              indexedAt,
              image.video?.path ?? null,
              image.video ? Math.round(image.video.timeMs) : null,
            ]),
          ],
        );
        // An updated row keeps its id: read the ids back by path (the path prefix key serves the lookup;
        // the unique hash key only guards uniqueness).
        const [rows] = await conn.query<mysql.RowDataPacket[]>(
          'SELECT id, path FROM images WHERE path IN (?)',
          [chunk.map((image) => image.path)],
        );
        const idOf = new Map(rows.map((r) => [r.path as string, Number(r.id)]));
        const chunkIds = chunk.map((image) => idOf.get(image.path)!);
        await conn.query(
          'INSERT INTO features (image_id, vector) VALUES ? ON DUPLICATE KEY UPDATE vector = VALUES(vector)',
          [chunk.map((image, i) => [chunkIds[i], vectorToBytes(image.vector)])],
        );
        ids.push(...chunkIds);
      }
      return ids;
    });
  }

  async touch(files: Array<{ id: number; mtimeMs: number }>): Promise<void> {
    if (files.length === 0) return;
    await this.transaction(async (conn) => {
      for (const f of files)
        await conn.query('UPDATE images SET mtime_us = ? WHERE id = ?', [Math.round(f.mtimeMs * 1000), f.id]);
    });
  }

  /** Deletes images (vectors and lists cascade) and leaves tombstones, inside the caller's transaction. */
  private async removeAt(conn: mysql.PoolConnection, ids: number[], rev: number): Promise<void> {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      await conn.query('DELETE FROM images WHERE id IN (?)', [chunk]);
      await conn.query(
        'INSERT INTO removed (image_id, rev) VALUES ? ON DUPLICATE KEY UPDATE rev = VALUES(rev)',
        [chunk.map((id) => [id, rev])],
      );
    }
  }

  async remove(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.transaction(async (conn) => this.removeAt(conn, ids, await this.bumpRevision(conn)));
  }

  async image(id: number): Promise<StoredImage | undefined> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      `SELECT ${IMAGE_COLUMNS} FROM images WHERE id = ?`,
      [id],
    );
    const row = rows[0] as ImageRow | undefined;
    return row && toStoredImage(row);
  }

  async images(ids: number[]): Promise<Map<number, StoredImage>> {
    const out = new Map<number, StoredImage>();
    if (ids.length === 0) return out;
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      `SELECT ${IMAGE_COLUMNS} FROM images WHERE id IN (?)`,
      [ids],
    );
    for (const row of rows as ImageRow[]) out.set(Number(row.id), toStoredImage(row));
    return out;
  }

  async vector(id: number): Promise<Float32Array | undefined> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      'SELECT vector FROM features WHERE image_id = ?',
      [id],
    );
    const row = rows[0];
    return row && bytesToVector(row.vector as Buffer);
  }

  async scanVectors(
    visit: (id: number, vector: Float32Array, rev: number) => void,
    sinceRev = 0,
  ): Promise<void> {
    // Keyset pages: a result set of 250,000 vectors (1 GB) is never held at once.
    const page = 5000;
    for (let after = 0; ; ) {
      const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
        `SELECT f.image_id AS id, f.vector AS vector, i.rev AS rev FROM features f JOIN images i ON i.id = f.image_id
         WHERE i.rev > ? AND f.image_id > ? ORDER BY f.image_id LIMIT ?`,
        [sinceRev, after, page],
      );
      for (const row of rows) visit(Number(row.id), bytesToVector(row.vector as Buffer), Number(row.rev));
      if (rows.length < page) return;
      after = Number(rows[rows.length - 1]!.id);
    }
  }

  async removedSince(sinceRev: number): Promise<number[]> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      'SELECT image_id AS id FROM removed WHERE rev > ? ORDER BY image_id',
      [sinceRev],
    );
    return rows.map((r) => Number(r.id));
  }

  async neighbours(id: number): Promise<NeighbourList | undefined> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      'SELECT * FROM neighbours WHERE image_id = ?',
      [id],
    );
    return rows[0] && toNeighbourList(rows[0] as NeighbourRow);
  }

  async scanNeighbours(visit: (list: NeighbourList) => void): Promise<void> {
    const page = 10_000;
    for (let after = 0; ; ) {
      const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
        'SELECT * FROM neighbours WHERE image_id > ? ORDER BY image_id LIMIT ?',
        [after, page],
      );
      for (const row of rows as NeighbourRow[]) visit(toNeighbourList(row));
      if (rows.length < page) return;
      after = Number(rows[rows.length - 1]!.image_id);
    }
  }

  async putNeighbours(lists: NeighbourList[], state?: NeighbourState): Promise<void> {
    await this.transaction(async (conn) => {
      for (let i = 0; i < lists.length; i += 500) {
        const chunk = lists.slice(i, i + 500);
        if (chunk.length === 0) break;
        // Only lists of images that still exist (an image removed meanwhile keeps no list).
        const [existing] = await conn.query<mysql.RowDataPacket[]>('SELECT id FROM images WHERE id IN (?)', [
          chunk.map((l) => l.id),
        ]);
        const alive = new Set(existing.map((r) => Number(r.id)));
        const rows = chunk
          .filter((l) => alive.has(l.id))
          .map((l) => [l.id, l.rev, int32ToBytes(l.ids), vectorToBytes(l.distances)]);
        if (rows.length === 0) continue;
        await conn.query(
          'INSERT INTO neighbours (image_id, rev, ids, distances) VALUES ? ON DUPLICATE KEY UPDATE rev = VALUES(rev), ids = VALUES(ids), distances = VALUES(distances)',
          [rows],
        );
      }
      if (state) {
        await this.setMeta(conn, 'neighbours_k', state.k);
        await this.setMeta(conn, 'neighbours_rev', state.rev);
      }
    });
  }

  async neighbourState(): Promise<NeighbourState> {
    return {
      k: Number((await this.metaValue('neighbours_k')) ?? 0),
      rev: Number((await this.metaValue('neighbours_rev')) ?? 0),
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
