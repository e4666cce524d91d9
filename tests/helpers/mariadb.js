/**
 * A throwaway MariaDB server for tests: a fresh data directory in a temp folder, loopback only, on an
 * ephemeral port, stopped (and its data deleted) by `stop()`. Uses Debian's mariadb-server binaries.
 * Plain JavaScript (with mariadb.d.ts) so that the benchmarks use it too.
 * In CI (CI=true) a missing server is a failure with a clear message; elsewhere the caller may skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SERVER_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'];
const INSTALL_CANDIDATES = [
  '/usr/bin/mariadb-install-db',
  '/usr/bin/mysql_install_db',
  '/usr/sbin/mariadb-install-db',
];

/** @returns {{ server: string, install: string } | undefined} */
export function mariadbBinaries() {
  const server = SERVER_CANDIDATES.find((p) => existsSync(p));
  const install = INSTALL_CANDIDATES.find((p) => existsSync(p));
  return server && install ? { server, install } : undefined;
}

/** Why MariaDB tests cannot run here, or undefined when they can. Throws in CI. */
export function mariadbMissing() {
  if (mariadbBinaries()) return undefined;
  const reason = `MariaDB server not found (${SERVER_CANDIDATES.join(', ')}): install Debian's mariadb-server (.ci/run does)`;
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function startMariaDb() {
  const bins = mariadbBinaries();
  if (!bins) throw new Error(mariadbMissing() ?? 'MariaDB server not found');
  const dir = await mkdtemp(path.join(tmpdir(), 'framesift-mariadb-'));
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'sock');
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  const install = spawnSync(
    bins.install,
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
    ],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr || install.stdout}`);
  }
  const port = await freePort();
  let log = '';
  const child = spawn(
    bins.server,
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-networking=0',
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=128M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-allowed-packet=64M',
      ...asRoot,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (d) => (log += d.toString()));
  child.stderr.on('data', (d) => (log += d.toString()));
  // Ready when it says so on stderr ("ready for connections"), or failed when it exits first.
  await new Promise((resolve, reject) => {
    const onData = () => {
      if (log.includes('ready for connections')) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`mariadbd exited (${code}) before it was ready:\n${log.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`mariadbd not ready after 60 s:\n${log.slice(-2000)}`));
    }, 60_000);
    const cleanup = () => {
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
    };
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  }).catch(async (err) => {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  const mysql = (await import('mysql2/promise')).default;
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}/`,
    async createDatabase(name) {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      try {
        await conn.query(`CREATE DATABASE \`${name}\``);
      } finally {
        await conn.end();
      }
      return `mysql://root@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      child.kill('SIGTERM');
      await waitForExit(child, 20_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
