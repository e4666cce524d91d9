/**
 * The two stores every search suite runs against: SQLite (a file in the suite's temp folder) and MariaDB
 * (a throwaway server from tests/helpers/mariadb.js, started by `start()` in the suite's beforeAll). One
 * list, so each suite covers both stores the same way and skips MariaDB the same visible way outside CI.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { it } from 'vitest';
import { mariadbMissing, startMariaDb, type MariaDb } from './mariadb.js';

export interface SearchBackend {
  name: 'sqlite' | 'mariadb';
  /** Why this store cannot be tested here (MariaDB not installed, outside CI), or undefined. */
  skip: string | undefined;
  /** A new, empty database; returns its --db value. */
  create(name: string): Promise<string>;
  /** Runs raw SQL on the database (to play an older or newer writer). */
  exec(db: string, sql: string): Promise<void>;
}

export interface SearchBackends {
  list: SearchBackend[];
  /** Starts the MariaDB server (when it can run here). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The stores, with SQLite files under `tmp`. */
export function searchBackends(tmp: string): SearchBackends {
  const skipMaria = mariadbMissing();
  let maria: MariaDb | undefined;
  const list: SearchBackend[] = [
    {
      name: 'sqlite',
      skip: undefined,
      create: async (name) => path.join(tmp, `${name}.db`),
      exec: async (db, sql) => {
        const conn = new Database(db);
        conn.exec(sql);
        conn.close();
      },
    },
    {
      name: 'mariadb',
      skip: skipMaria,
      create: async (name) => {
        if (!maria) throw new Error('MariaDB not started: call start() in beforeAll');
        return maria.createDatabase(name);
      },
      exec: async (db, sql) => {
        const conn = await mysql.createConnection({ uri: db });
        await conn.query(sql);
        await conn.end();
      },
    },
  ];
  return {
    list,
    async start() {
      if (!skipMaria) maria ??= await startMariaDb();
    },
    async stop() {
      await maria?.stop();
      maria = undefined;
    },
  };
}

/** `it` for a store's tests inside its describe, or `it.skip` with the reason shown as a skipped test. */
export function itOn(backend: SearchBackend): typeof it | typeof it.skip {
  if (!backend.skip) return it;
  it.skip(`${backend.name}: ${backend.skip}`, () => undefined);
  return it.skip;
}
