// The bus mode over a local nats-server (Debian's nats-server on loopback): frames/s from publish to
// collected results with 1, 2 and 4 worker processes, for Fashion-MNIST frames (4 cameras) and for
// 640×480 JPEG camera frames (8 cameras); end-to-end latency at a paced rate; and the direct ws path
// (`run` against `serve`) on the same frames in the same run, for the bus's overhead.
// FRAMESIFT_BENCH_BUS_FRAMES (default 20000) sets the Fashion-MNIST frames per configuration.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
    [CLI, 'worker', '--bus', url, '--partition', String(partition), '--workers', '1', ...extra],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    },
  );
  const owning = new Promise((resolve, reject) => {
    let out = '';
    child.stderr.on('data', (d) => {
      out += d;
      if (out.includes('partition lease acquired')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out.slice(-1000)}`)));
  });
  return {
    owning,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

const busConfig = (flags) => resolveConfig('bus', flags, {});

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
    const collecting = busCollectCommand(busConfig({ bus: nats.url, out }), {
      signal: abort.signal,
      onSession: (r) => {
        collected.push(r);
        wake?.();
      },
    });
    const started = performance.now();
    const ends = await Promise.all(
      Array.from({ length: cameras }, (_, c) =>
        busPublishCommand(busConfig({ bus: nats.url, camera: `cam${c}`, count: frames, fps, source, mode })),
      ),
    );
    while (collected.length < cameras) await new Promise((r) => (wake = r));
    const seconds = (performance.now() - started) / 1000;
    abort.abort();
    await collecting;
    const total = ends.reduce((n, e) => n + e.sent, 0);
    const processed = collected.reduce((n, r) => n + r.written.document.counts.processed, 0);
    const latencies = collected
      .flatMap((r) => r.session.outcomes.map((o) => o.decidedAt - o.sentAt))
      .sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    return {
      config: label,
      workers,
      cameras,
      frames: total,
      processed,
      seconds,
      framesPerSecond: processed / seconds,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
    };
  } finally {
    await Promise.all(procs.map((w) => w.stop()));
    await nats.stop();
    await rm(out, { recursive: true, force: true });
  }
}

/** 640×480 JPEG frames made from the repository's fixture photos (no external data needed). */
async function jpegFolder() {
  const src = path.join(here, '..', 'tests', 'fixtures', 'photos', 'caltech-resize');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'framesift-bench-jpeg-'));
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(src)).filter((f) => f.endsWith('.jpg')).slice(0, 60);
  await mkdir(dir, { recursive: true });
  for (const f of files)
    await sharp(path.join(src, f))
      .resize(640, 480, { fit: 'fill' })
      .jpeg({ quality: 85 })
      .toFile(path.join(dir, f));
  return dir;
}

export async function run() {
  const frames = Number(process.env.FRAMESIFT_BENCH_BUS_FRAMES ?? 20000);
  const rows = [];
  for (const workers of [1, 2, 4]) {
    rows.push(
      await measure({
        workers,
        cameras: 4,
        frames: frames / 4,
        source: 'fashion-mnist-test',
        mode: 'classify',
        label: 'fashion-mnist classify',
      }),
    );
  }
  rows.push(
    await measure({
      workers: 2,
      cameras: 4,
      frames: 500,
      source: 'fashion-mnist-test',
      mode: 'classify',
      fps: 200,
      label: 'fashion-mnist paced 4×200 fps',
    }),
  );
  const folder = await jpegFolder();
  try {
    for (const workers of [1, 2, 4]) {
      rows.push(
        await measure({
          workers,
          cameras: 8,
          frames: 60,
          source: folder,
          mode: 'dedupe',
          label: '640×480 JPEG dedupe',
        }),
      );
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const base = (label) => rows.find((r) => r.config === label && r.workers === 1)?.framesPerSecond;
  for (const r of rows) {
    const one = base(r.config);
    if (one && r.config !== 'fashion-mnist paced 4×200 fps') {
      r.scaling = r.framesPerSecond / one;
      r.perCoreEfficiency = r.scaling / Math.min(r.workers, os.cpus().length);
    }
  }
  return {
    name: 'bus',
    rows,
    notes: [
      `machine: ${os.cpus().length} cores; every worker process, the nats-server, the publishers and the collector share them, so scaling above ${os.cpus().length} workers measures contention, not capacity`,
      'the direct ws path on the same frames is `npm run bench -- e2e` (same machine, compare within one run)',
    ],
  };
}
