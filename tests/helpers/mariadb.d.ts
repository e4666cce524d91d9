/** Types of mariadb.js (a throwaway MariaDB server for tests and benchmarks). */
export interface MariaDb {
  /** mysql://root@127.0.0.1:<port>/ */
  url: string;
  port: number;
  /** A new, empty database on the same server; returns its mysql:// URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>;
}
export function mariadbBinaries(): { server: string; install: string } | undefined;
/** Why MariaDB tests cannot run here, or undefined when they can; throws in CI (CI=true). */
export function mariadbMissing(): string | undefined;
export function startMariaDb(): Promise<MariaDb>;
