// The bus mode over a local nats-server (Debian's nats-server on loopback): frames/s from the first
// publish to the last frame decided, with 1, 2 and 4 worker processes (one analysis thread each), for
// Fashion-MNIST frames (4 cameras) and for 640×480 JPEG camera frames (8 cameras); end-to-end latency at a
// paced rate; and, in the same run on the same frames, the direct ws path (`serve` in its own process →
// `run` with 1 and 2 analysis threads), so the bus's overhead is a ratio measured under the same load.
// FRAMESIFT_BENCH_BUS_FRAMES (default 4000) sets the Fashion-MNIST frames per configuration.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const CLI = path.join(dist, 'cli.js');
const { natsServerConfig } = await import(path.join(dist, 'bus', 'index.js'));
const { busPublishCommand, busCollectCommand } = await import(path.join(dist, 'commands', 'bus.js'));
const { resolveConfig } = await import(path.join(dist, 'common', 'config.js'));
const { runPipeline } = await import(path.join(dist, 'commands', 'run.js'));
const { startServerProcess } = await import('./server-process.js');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startNats(partitions) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framesift-bench-nats-'));
  const port = await freePort();
  const conf = path.join(dir, 'nats.conf');
  await writeFile(
    conf,
    natsServerConfig({
      partitions,
      port,
      storeDir: path.join(dir, 'store'),
      maxPayloadBytes: 8 * 1024 * 1024,
    }),
  );
  const child = spawn(process.env.NATS_SERVER_PATH ?? 'nats-server', ['-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stderr.on('data', (d) => {
      out += d;
      if (out.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited ${code}: ${out}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function startWorker(url, partition, extra) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--bus',
      url,
      '--partition',
      String(partition),
      '--workers',
      '1',
      // Each worker's /metrics on any free port: several run at once.
      '--metrics-port',
      '0',
      ...extra,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    },
  );
  let out = '';
  const owning = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out += d;
      if (out.includes('partition lease acquired')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out.slice(-1000)}`)));
  });
  return {
    owning,
    /** Leases lost on a loaded machine (renewals late past the TTL): each costs a takeover's ack wait. */
    leaseLosses: () => out.split('partition lease lost').length - 1,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const busConfig = (flags) => resolveConfig('bus', flags, {});

function quantile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * The direct ws path on the same frames: `serve` in its own process streams `frames` of `source` as one
 * session to `run` (in this process) with `threads` analysis threads, results folder written as usual.
 */
async function measureDirect({ threads, frames, source, mode, fps = 0, label }) {
  const out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bench-direct-'));
  const server = await startServerProcess({ resultsDir: path.join(out, 'server'), source });
  try {
    // skipResults: the span measured (streamMs) ends at the last result consumed, before results are written.
    const result = await runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        count: frames,
        fps,
        mode,
        workers: threads,
        out,
      },
      { skipResults: true },
    );
    const counts = result.ledger.counts(result.sent);
    const seconds = result.streamMs / 1000;
    const latencies = Array.from(result.recorder.predictions.latencyMs()).sort((a, b) => a - b);
    return {
      config: label,
      path: 'direct ws',
      workers: threads,
      cameras: 1,
      frames: result.sent,
      processed: counts.processed,
      seconds,
      framesPerSecond: counts.processed / seconds,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
    };
  } finally {
    await server.stop();
    await rm(out, { recursive: true, force: true });
  }
}

/** One configuration: `workers` processes over as many partitions, `cameras` publishers of `frames` each. */
async function measure({ workers, cameras, frames, source, mode, fps = 0, label }) {
  const nats = await startNats(workers);
  const out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bench-bus-'));
  const procs = Array.from({ length: workers }, (_, p) => startWorker(nats.url, p, ['--mode', mode]));
  try {
    await Promise.all(procs.map((w) => w.owning));
    const abort = new AbortController();
    const collected = [];
    let wake;
    // A takeover (a lease lost under load) waits out the ack wait: the collector waits longer than that.
    const collecting = busCollectCommand(busConfig({ bus: nats.url, out, busIdleMs: 120_000 }), {
      signal: abort.signal,
      onSession: (r) => {
        collected.push(r);
        wake?.();
      },
    });
    const started = Date.now();
    const ends = await Promise.all(
      Array.from({ length: cameras }, (_, c) =>
        busPublishCommand(busConfig({ bus: nats.url, camera: `cam${c}`, count: frames, fps, source, mode })),
      ),
    );
    while (collected.length < cameras) await new Promise((r) => (wake = r));
    const collectedSeconds = (Date.now() - started) / 1000;
    abort.abort();
    await collecting;
    const total = ends.reduce((n, e) => n + e.sent, 0);
    const processed = collected.reduce((n, r) => n + r.written.document.counts.processed, 0);
    const outcomes = collected.flatMap((r) => r.session.outcomes);
    // First publish → last frame decided: the span `run`'s streamMs covers on the direct path.
    const seconds = (Math.max(...outcomes.map((o) => o.decidedAt)) - started) / 1000;
    const latencies = outcomes.map((o) => o.decidedAt - o.sentAt).sort((a, b) => a - b);
    return {
      config: label,
      path: 'bus',
      workers,
      cameras,
      frames: total,
      processed,
      seconds,
      collectedSeconds,
      framesPerSecond: processed / seconds,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      leaseLosses: procs.reduce((n, w) => n + w.leaseLosses(), 0),
    };
  } finally {
    await Promise.all(procs.map((w) => w.stop()));
    await nats.stop();
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * 640×480 JPEG frames made from the repository's fixture photos (no external data needed): `copies` times
 * the same 60 photos, named so the copies follow one another (the direct path streams all of them as
 * one session; each bus camera streams one copy).
 */
async function jpegFolder(copies) {
  const src = path.join(here, '..', 'tests', 'fixtures', 'photos', 'caltech-resize');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framesift-bench-jpeg-'));
  const files = (await readdir(src)).filter((f) => f.endsWith('.jpg')).slice(0, JPEG_PER_CAMERA);
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    const jpeg = await sharp(path.join(src, f))
      .resize(640, 480, { fit: 'fill' })
      .jpeg({ quality: 85 })
      .toBuffer();
    for (let c = 0; c < copies; c++) await writeFile(path.join(dir, `${c}-${f}`), jpeg);
  }
  return dir;
}

const JPEG_PER_CAMERA = 60;
const PACED = { cameras: 4, fps: 200, frames: 500 };

export async function run() {
  // The machine's load around the run: on a shared machine the absolute figures move with it.
  const frames = Number(process.env.FRAMESIFT_BENCH_BUS_FRAMES ?? 4000);
  const rows = [];
  const fashion = { source: 'fashion-mnist-test', mode: 'classify', label: 'fashion-mnist classify' };
  for (const threads of [1, 2]) rows.push(await measureDirect({ ...fashion, threads, frames }));
  for (const workers of [1, 2, 4]) {
    rows.push(await measure({ ...fashion, workers, cameras: 4, frames: frames / 4 }));
  }
  const paced = {
    source: 'fashion-mnist-test',
    mode: 'classify',
    label: `fashion-mnist paced ${PACED.cameras * PACED.fps} fps`,
  };
  rows.push(
    await measureDirect({
      ...paced,
      threads: 2,
      frames: PACED.cameras * PACED.frames,
      fps: PACED.cameras * PACED.fps,
    }),
  );
  rows.push(
    await measure({ ...paced, workers: 2, cameras: PACED.cameras, frames: PACED.frames, fps: PACED.fps }),
  );
  const one = await jpegFolder(1);
  const eight = await jpegFolder(8);
  try {
    const jpeg = { mode: 'dedupe', label: '640×480 JPEG dedupe' };
    for (const threads of [1, 2]) {
      rows.push(await measureDirect({ ...jpeg, source: eight, threads, frames: 8 * JPEG_PER_CAMERA }));
    }
    for (const workers of [1, 2, 4]) {
      rows.push(await measure({ ...jpeg, source: one, workers, cameras: 8, frames: JPEG_PER_CAMERA }));
    }
  } finally {
    await rm(one, { recursive: true, force: true });
    await rm(eight, { recursive: true, force: true });
  }
  const cores = os.cpus().length;
  const find = (config, p, workers) =>
    rows.find((r) => r.config === config && r.path === p && r.workers === workers)?.framesPerSecond;
  for (const r of rows) {
    if (r.path !== 'bus') continue;
    // The same analysis threads on the direct path: 1 or 2 (this machine's cores).
    const direct = find(r.config, 'direct ws', Math.min(r.workers, 2));
    if (direct) r.busVsDirect = r.framesPerSecond / direct;
    const base = find(r.config, 'bus', 1);
    if (base && r.config.indexOf('paced') < 0) {
      r.scaling = r.framesPerSecond / base;
      r.perCoreEfficiency = r.scaling / Math.min(r.workers, cores);
    }
  }
  return {
    name: 'bus',
    rows,
    notes: [
      `machine: ${cores} cores; every worker process, the nats-server, the publishers and the collector share them, so scaling above ${cores} workers measures contention, not capacity`,
      "seconds: first frame sent → last frame decided (the span of `run`'s streamMs on the direct path); collectedSeconds: until the last camera session was written",
      'busVsDirect: bus frames/s ÷ direct ws frames/s with the same analysis threads (bus: one thread per worker process; direct: `run --workers 1` or 2), measured in this run',
      'direct ws: one session of all the frames (Fashion-MNIST test split; the 60 photos ×8 for JPEG); bus: the cameras publish in parallel, each its own session',
      'latency: sentAt → decided, same clock (one machine)',
      'leaseLosses: partition leases lost during the configuration (renewals late past the 5 s TTL on a loaded machine); each costs the partition a takeover that waits out the 30 s ack wait',
    ],
  };
}
