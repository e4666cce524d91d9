/**
 * Faults with real processes: `framesift serve` and `framesift run` (the CLI, the real model), and a TCP
 * proxy the run's connections pass through, so a test can cut a connection or kill a process at a known
 * point (after N frame bytes), without sleeps. The run reaches the server through 127.0.0.2: the server
 * advertises the frame URL by that name, and the proxy listens on 127.0.0.2 at the server's frame port.
 *
 * Each fault checks the exit code, what is written, and that a new session works afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../stream/helpers.js';

const CLI = path.resolve('dist/cli.js');
const PROXY_HOST = '127.0.0.2';

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', FASHION_MNIST_DIR: path.resolve('data/fashion-mnist') },
  });
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((r) => child.once('exit', r)) };
  child.stdout!.on('data', (d: Buffer) => (proc.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (proc.stderr += d.toString()));
  return proc;
}

/** Waits for a JSON log line of `proc` matching `test`. */
async function logLine(
  proc: Proc,
  test: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    for (const line of proc.stderr.split('\n')) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (test(parsed)) return parsed;
    }
    await new Promise<void>((resolve) => proc.child.stderr!.once('data', () => resolve()));
  }
}

/** A TCP proxy on `host:port` to 127.0.0.1:`target`; `onBytes` sees the bytes sent to the client so far. */
async function proxy(
  host: string,
  port: number,
  target: number,
  onBytes?: (total: number, cut: () => void) => void,
) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    let total = 0;
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      client.write(d);
      total += d.length;
      onBytes?.(total, cut);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serve(resultsDir: string): Promise<{ proc: Proc; framesPort: number; controlPort: number }> {
  const proc = start(['serve', '--frames-port', '0', '--control-port', '0', '--results-dir', resultsDir]);
  cleanup.push(async () => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });
  const line = await logLine(proc, (l) => l.message === 'stream server listening');
  return { proc, framesPort: line.framesPort as number, controlPort: line.controlPort as number };
}

interface Route {
  controlPort: number;
  /** Sees the frame bytes sent to the client so far (per connection); may cut it. */
  onFrameBytes?: (total: number, cut: () => void) => void;
}

/** The proxies of one server (control on any port, frames on the server's own port at 127.0.0.2). */
async function route(server: { framesPort: number; controlPort: number }): Promise<Route> {
  const control = await proxy(PROXY_HOST, 0, server.controlPort);
  const routed: Route = { controlPort: control.port };
  const frames = await proxy(PROXY_HOST, server.framesPort, server.framesPort, (total, cut) =>
    routed.onFrameBytes?.(total, cut),
  );
  cleanup.push(
    () => control.close(),
    () => frames.close(),
  );
  return routed;
}

/** Runs a client through the proxies of `via`. */
function runThrough(via: Route, out: string, count: number): Proc {
  const run = start([
    'run',
    '--host',
    PROXY_HOST,
    '--control-port',
    String(via.controlPort),
    '--metrics-port',
    '0',
    '--count',
    String(count),
    '--fps',
    '500',
    '--workers',
    '1',
    '--out',
    out,
  ]);
  cleanup.push(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  return run;
}

async function resultsOf(out: string): Promise<Record<string, unknown>[]> {
  const folders = await readdir(out).catch(() => [] as string[]);
  const docs: Record<string, unknown>[] = [];
  for (const f of folders) {
    const text = await readFile(path.join(out, f, 'results.json'), 'utf8').catch(() => undefined);
    if (text) docs.push(JSON.parse(text) as Record<string, unknown>);
  }
  return docs;
}

/** Bytes of ~100 Fashion-MNIST frames (24-byte header + 784 pixels each). */
const HUNDRED_FRAMES = 100 * (24 + 784);

describe('faults mid-session', { timeout: 120_000 }, () => {
  it('frame socket cut: run exits non-zero, says so, writes results marked incomplete; the next session works', async () => {
    const server = await serve(await tempDir('framesift-fault-results-'));
    const out = await tempDir('framesift-fault-out-');
    const via = await route(server);
    via.onFrameBytes = (total, cut) => {
      if (total > HUNDRED_FRAMES) cut();
    };
    const run = runThrough(via, out, 2000);
    const code = await run.exited;
    expect(code).not.toBe(0);
    const oneLiner = run.stderr.split('\n').filter((l) => l.startsWith('framesift: '));
    expect(oneLiner, run.stderr.slice(-2000)).toEqual([
      expect.stringMatching(/ended early: frame-socket-closed|incomplete/),
    ]);
    const [doc] = await resultsOf(out);
    expect(doc, 'results.json written').toBeDefined();
    expect(doc!.verdict).toMatchObject({ complete: false });
    expect((doc!.verdict as { reasons: string[] }).reasons).toContain('frame-socket-closed');
    const summary = await readFile(path.join(out, doc!.sessionId as string, 'summary.md'), 'utf8');
    // Every output tells the same story: the verdict and its explanation are in summary.md too.
    const verdict = doc!.verdict as { explanation: string };
    expect(verdict.explanation).toMatch(/frame socket/i);
    expect(summary).toContain(verdict.explanation);

    via.onFrameBytes = undefined;
    const again = runThrough(via, await tempDir('framesift-fault-out2-'), 50);
    expect(await again.exited).toBe(0);
  });

  it('server killed mid-session: run exits non-zero and still writes what it processed, marked incomplete', async () => {
    const server = await serve(await tempDir('framesift-fault-results-'));
    const out = await tempDir('framesift-fault-out-');
    let killed = false;
    const via = await route(server);
    via.onFrameBytes = (total) => {
      if (total > HUNDRED_FRAMES && !killed) {
        killed = true;
        server.proc.child.kill('SIGKILL');
      }
    };
    const run = runThrough(via, out, 2000);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr).toMatch(/^framesift: .*/m);
    const [doc] = await resultsOf(out);
    expect(doc, 'results.json written').toBeDefined();
    expect(doc!.verdict).toMatchObject({ complete: false });
    expect((doc!.counts as { processed: number }).processed).toBeGreaterThan(0);

    const fresh = await serve(await tempDir('framesift-fault-results2-'));
    const again = runThrough(await route(fresh), await tempDir('framesift-fault-out2-'), 50);
    expect(await again.exited).toBe(0);
  });

  it('client killed mid-session: the server goes on, and a new session streams every frame', async () => {
    const server = await serve(await tempDir('framesift-fault-results-'));
    const via = await route(server);
    let run: Proc | undefined = undefined;
    via.onFrameBytes = (total) => {
      if (total > HUNDRED_FRAMES) run?.child.kill('SIGKILL');
    };
    run = runThrough(via, await tempDir('framesift-fault-out-'), 2000);
    await run.exited;
    via.onFrameBytes = undefined;
    await logLine(server.proc, (l) => l.message === 'frame socket closed mid-stream');
    const out = await tempDir('framesift-fault-out2-');
    const again = runThrough(via, out, 100);
    expect(await again.exited).toBe(0);
    const [doc] = await resultsOf(out);
    expect(doc!.counts).toMatchObject({ processed: 100 });
    expect(server.proc.child.exitCode).toBeNull();
  });
});
