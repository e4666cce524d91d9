/**
 * `--db` → a store: `mysql://…` (or `mariadb://…`) opens MariaDB, anything else is a SQLite file path.
 * The ANN graph lives beside a SQLite file (`<db>.hnsw`); for a server database it is a local cache file
 * named after the server and database (`--ann-file` overrides both).
 */
import path from 'node:path';
import { MariaDbStore } from './mariadb-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { SearchStore } from './store.js';

/** `--db` when none is given (the default of FRAMESIFT_DB). */
export const DEFAULT_DB = 'framesift-index.db';

export function isServerUrl(db: string): boolean {
  return /^(mysql|mariadb):\/\//i.test(db);
}

export async function openStore(db: string): Promise<SearchStore> {
  return isServerUrl(db) ? MariaDbStore.open(db.replace(/^mariadb:/i, 'mysql:')) : SqliteStore.open(db);
}

export function defaultAnnFile(db: string, cacheDir = path.join('out', 'search')): string {
  if (!isServerUrl(db)) return `${path.resolve(db)}.hnsw`;
  const u = new URL(db.replace(/^mariadb:/i, 'mysql:'));
  const name = `${u.hostname}-${u.port || 3306}-${u.pathname.replace(/^\//, '')}`.replace(
    /[^A-Za-z0-9._-]/g,
    '_',
  );
  return path.resolve(cacheDir, `${name}.hnsw`);
}
