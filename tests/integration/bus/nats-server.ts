/**
 * Real nats-server processes for the bus tests (Debian's nats-server 2.9, JetStream enabled): each on
 * free loopback ports with a throwaway store directory, stopped (and its directory removed) after.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { natsServerConfig } from '../../../src/bus/index.js';

export const NATS_SERVER = process.env.NATS_SERVER_PATH ?? 'nats-server';

/** Whether nats-server can run here; CI installs it, so there its absence is a failure, not a skip. */
export function natsServerAvailable(): boolean {
  const found = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).status === 0;
  if (!found && process.env.CI) throw new Error(`${NATS_SERVER} not found: .ci/run installs nats-server`);
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface NatsNode {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL, as a crash. */
  kill(): void;
  stop(): Promise<void>;
}

async function waitForOutput(child: ChildProcess, text: RegExp, what: string): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start: ${output.slice(-2000)}`)),
      20_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (text.test(output)) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${output.slice(-2000)}`));
    });
  });
}

async function launch(config: string, dir: string, name: string): Promise<ChildProcess> {
  const file = path.join(dir, `${name}.conf`);
  await writeFile(file, config);
  const child = spawn(NATS_SERVER, ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return child;
}

function node(child: ChildProcess, port: number, dir: string | undefined): NatsNode {
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    child,
    kill: () => void child.kill('SIGKILL'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startNats(
  options: { partitions?: number; maxPayloadBytes?: number } = {},
): Promise<NatsNode> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framesift-nats-'));
  const port = await freePort();
  const child = await launch(
    natsServerConfig({
      partitions: options.partitions ?? 4,
      port,
      storeDir: path.join(dir, 'store'),
      maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024,
    }),
    dir,
    'nats',
  );
  await waitForOutput(child, /Server is ready/, 'nats-server');
  return node(child, port, dir);
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL, comma-separated (what `--bus` takes). */
  servers: string;
  stop(): Promise<void>;
}

/** A 3-node JetStream cluster on loopback. */
export async function startNatsCluster(
  options: { partitions?: number; size?: number } = {},
): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framesift-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const children = await Promise.all(
    ports.map((port, i) =>
      launch(
        natsServerConfig({
          partitions: options.partitions ?? 4,
          port,
          storeDir: path.join(dir, `n${i}`),
          maxPayloadBytes: 8 * 1024 * 1024,
          cluster: { name: 'framesift-test', serverName: `n${i}`, port: routePorts[i]!, routes },
        }),
        dir,
        `n${i}`,
      ),
    ),
  );
  // JetStream in a cluster is usable once the meta group has a leader.
  await Promise.all(children.map((child, i) => waitForOutput(child, /metadata leader/, `nats node n${i}`)));
  const nodes = children.map((child, i) => node(child, ports[i]!, undefined));
  return {
    nodes,
    servers: nodes.map((n) => n.url).join(','),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
