/**
 * The store of record of a similar-image index: images (stable id, path, size, sha256, mtime), their
 * feature vectors, the model that computed them, and precomputed neighbour lists. Two implementations
 * pass the same test suite: SQLite (one file, the embedded default) and MariaDB (`mysql://…`).
 *
 * Every write is one transaction and bumps the store's revision; each image row remembers the revision
 * that wrote its vector and removals leave a tombstone, so an ANN index or neighbour lists computed at
 * revision R can be brought up to date by replaying what changed after R.
 */
import { UserError } from '../common/errors.js';
import { formatMediaTime } from '../common/wire/frame-time.js';

/**
 * Schema version this code writes; older databases are migrated on open, newer ones refused.
 * 1: meta, images, features, neighbours, removed. 2: images.video and images.time_ms (video frames).
 */
export const SCHEMA_VERSION = 2;

/** The model whose vectors a store holds: vectors of different models are never compared. */
export interface ModelStamp {
  name: string;
  file: string;
  sha256: string;
  dimension: number;
}

export interface StoredImage {
  id: number;
  /** Absolute path when indexed. */
  path: string;
  size: number;
  sha256: string;
  mtimeMs: number;
  width: number;
  height: number;
  /** Store revision that wrote this image's vector. */
  rev: number;
  /** ISO time the vector was written. */
  indexedAt: string;
  /**
   * A frame of a video: the video file (size, sha256 and mtime are the video's) and the frame's time.
   * `path` is then `<video>#t=<seconds>` (a media-fragment reference), unique per frame.
   */
  video?: { path: string; timeMs: number };
}

/** What the incremental indexer compares with the folder: enough to tell new, changed and gone files. */
export type StoredFile = Pick<StoredImage, 'id' | 'path' | 'size' | 'sha256' | 'mtimeMs' | 'video'>;

export interface ImageWrite {
  path: string;
  size: number;
  sha256: string;
  mtimeMs: number;
  width: number;
  height: number;
  vector: Float32Array;
  video?: { path: string; timeMs: number };
}

/** A precomputed neighbour list: nearest first, the image itself excluded. */
export interface NeighbourList {
  id: number;
  ids: Int32Array;
  distances: Float32Array;
  /** Store revision the list is valid for (it is recomputed when the image's vector is newer). */
  rev: number;
}

export interface NeighbourState {
  /** k of the last `neighbours` run (0 = never run). */
  k: number;
  /** Store revision the last run brought every list up to. */
  rev: number;
}

export interface SearchStore {
  readonly kind: 'sqlite' | 'mariadb';
  /** Where the store is, for messages (a file path or mysql://host:port/db, without password). */
  readonly location: string;
  schemaVersion(): Promise<number>;
  /** The recorded model, or undefined for a store that holds no vectors yet. */
  model(): Promise<ModelStamp | undefined>;
  /** Records `stamp` on an empty store; on a store of another model throws ModelMismatchError. */
  ensureModel(stamp: ModelStamp): Promise<void>;
  revision(): Promise<number>;
  count(): Promise<number>;
  /** Images whose path is `root` or below it (every image when root is undefined). */
  files(root?: string): Promise<StoredFile[]>;
  /**
   * Inserts or replaces (by path, keeping the id) images and their vectors, and removes `removeIds` (a
   * changed video's frames that are gone), in one transaction.
   */
  write(images: ImageWrite[], removeIds?: number[]): Promise<number[]>;
  /** Updates the recorded mtime of files whose content did not change (no new revision). */
  touch(files: Array<{ id: number; mtimeMs: number }>): Promise<void>;
  /** Removes images, their vectors and neighbour lists in one transaction (tombstones kept). */
  remove(ids: number[]): Promise<void>;
  image(id: number): Promise<StoredImage | undefined>;
  /** The records of many images in one query (search hits); ids not in the store are absent. */
  images(ids: number[]): Promise<Map<number, StoredImage>>;
  vector(id: number): Promise<Float32Array | undefined>;
  /** Calls `visit` for every vector written after revision `sinceRev` (all when 0), in id order. */
  scanVectors(
    visit: (id: number, vector: Float32Array, rev: number) => void,
    sinceRev?: number,
  ): Promise<void>;
  /** Ids removed after revision `sinceRev`. */
  removedSince(sinceRev: number): Promise<number[]>;
  neighbours(id: number): Promise<NeighbourList | undefined>;
  /** Calls `visit` for every stored neighbour list. */
  scanNeighbours(visit: (list: NeighbourList) => void): Promise<void>;
  /** Writes neighbour lists and (optionally) the neighbour state, in one transaction. */
  putNeighbours(lists: NeighbourList[], state?: NeighbourState): Promise<void>;
  neighbourState(): Promise<NeighbourState>;
  close(): Promise<void>;
}

/** Vectors of another model than the store's: a clear error that says what to do. */
export class ModelMismatchError extends UserError {
  constructor(location: string, stored: ModelStamp, wanted: ModelStamp) {
    super(
      `${location}: the index holds vectors of model ${stored.name} (sha256 ${stored.sha256.slice(0, 12)}…, ` +
        `${stored.dimension}-d), this run uses ${wanted.name} (sha256 ${wanted.sha256.slice(0, 12)}…, ` +
        `${wanted.dimension}-d); vectors of different models cannot be compared: re-index into a new database ` +
        `(another --db) or delete ${location} and run "framesift index" again`,
    );
    this.name = 'ModelMismatchError';
  }
}

export function sameModel(a: ModelStamp, b: ModelStamp): boolean {
  return a.sha256 === b.sha256 && a.dimension === b.dimension;
}

/** A video frame's time as people say it: `00:01:23`, or `00:01:23.400` when it is not a whole second. */
export function videoTime(timeMs: number): string {
  return formatMediaTime(timeMs).replace(/\.000$/, '');
}

/** How a result names an image: its path, or `<video> at 00:01:23` for a video frame. */
export function imageLabel(image: Pick<StoredImage, 'path' | 'video'>): string {
  return image.video ? `${image.video.path} at ${videoTime(image.video.timeMs)}` : image.path;
}

/** The JSON of a video frame's source (CLI and REST): the video, the time in ms and as text. */
export function videoJson(
  image: Pick<StoredImage, 'video'>,
): { path: string; timeMs: number; time: string } | null {
  return image.video ? { ...image.video, time: videoTime(image.video.timeMs) } : null;
}

/**
 * The images table as both stores select it: the same column names, mtime in milliseconds (MariaDB keeps
 * microseconds in an integer and converts in its select list).
 */
export interface ImageRow {
  id: number | string;
  path: string;
  size: number | string;
  sha256: string;
  mtime_ms: number | string;
  width: number;
  height: number;
  rev: number | string;
  indexed_at: string;
  video: string | null;
  time_ms: number | string | null;
}

/** The select list of an ImageRow, given how the store spells mtime in milliseconds. */
export function imageColumns(mtimeMs: string): string {
  return `id, path, size, sha256, ${mtimeMs} AS mtime_ms, width, height, rev, indexed_at, video, time_ms`;
}

export function toStoredImage(row: ImageRow): StoredImage {
  const image: StoredImage = {
    id: Number(row.id),
    path: row.path,
    size: Number(row.size),
    sha256: row.sha256,
    mtimeMs: Number(row.mtime_ms),
    width: row.width,
    height: row.height,
    rev: Number(row.rev),
    indexedAt: row.indexed_at,
  };
  if (row.video !== null) image.video = { path: row.video, timeMs: Number(row.time_ms) };
  return image;
}

/** The neighbours table's row in both stores. */
export interface NeighbourRow {
  image_id: number | string;
  rev: number | string;
  ids: Uint8Array;
  distances: Uint8Array;
}

export function toNeighbourList(row: NeighbourRow): NeighbourList {
  return {
    id: Number(row.image_id),
    rev: Number(row.rev),
    ids: bytesToInt32(row.ids),
    distances: bytesToVector(row.distances),
  };
}

/** Int32 ids as the bytes of a BLOB column. */
export function int32ToBytes(ids: Int32Array): Buffer {
  return Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength);
}

/** Float32 vector ⇄ little-endian bytes as stored in a BLOB column. */
export function vectorToBytes(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function bytesToVector(bytes: Uint8Array): Float32Array {
  // Copy: a BLOB's bytes need not be 4-byte aligned.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function bytesToInt32(bytes: Uint8Array): Int32Array {
  const out = new Int32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** `root` and every path below it, as a LIKE pattern (with `\` as the escape character). */
export function pathPrefixPattern(root: string): string {
  const base = root.endsWith('/') ? root : `${root}/`;
  return base.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
}

/** Schema version guard shared by both stores. */
export function checkSchemaVersion(location: string, version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new UserError(
      `${location}: index schema version ${version} was written by a newer framesift (this one reads up to ${SCHEMA_VERSION}); upgrade framesift`,
    );
  }
}
