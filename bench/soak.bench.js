// `npm run bench -- soak`: the stream server (its own process) streams 1,000 frames/s to `run` (classify,
// in this process) for BENCH_SOAK_SECONDS (default 600 = 10 minutes), in back-to-back sessions of the
// Fashion-MNIST test split. Every 10 s it samples the client's and the server's RSS, the client's
// event-loop delay (p99, max) and the frame accounting so far; at the end it reports the RSS slope of both
// processes (MB per minute, least squares over the samples after the first minute) and whether every frame
// was accounted for (sent = processed + dropped + invalid + missing, per session and in total).
//
// Knobs: BENCH_SOAK_SECONDS (600), BENCH_SOAK_FPS (1000), BENCH_SOAK_SAMPLE_SECONDS (10).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runPipeline } from '../dist/commands/run.js';
import { startServerProcess } from './server-process.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const FPS = Number(process.env.BENCH_SOAK_FPS ?? 1000);
const SAMPLE_SECONDS = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 10);
const SESSION_FRAMES = 10_000;

/** RSS of another process, bytes (Linux /proc). */
function rssOf(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((t, p) => t + p.x, 0) / n;
  const my = points.reduce((t, p) => t + p.y, 0) / n;
  const num = points.reduce((t, p) => t + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((t, p) => t + (p.x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function run() {
  const resultsDir = await mkdtemp(path.join(os.tmpdir(), 'framesift-soak-'));
  const server = await startServerProcess({ resultsDir });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const totals = { sessions: 0, sent: 0, processed: 0, dropped: 0, invalid: 0, missing: 0, unreconciled: 0 };
  const samples = [];
  /** Frames processed so far in the running session (its totals are added when it ends). */
  let live = 0;
  const started = performance.now();
  const sample = () => {
    const t = (performance.now() - started) / 1000;
    samples.push({
      t: Math.round(t),
      clientRssMB: mb(process.memoryUsage.rss()),
      serverRssMB: mb(rssOf(server.pid)),
      loopP99ms: Math.round(delay.percentile(99) / 1e5) / 10,
      loopMaxMs: Math.round(delay.max / 1e5) / 10,
      sessions: totals.sessions,
      sent: totals.sent,
      processed: totals.processed + live,
      unaccounted: totals.sent - totals.processed - totals.dropped - totals.invalid - totals.missing,
    });
    delay.reset();
  };
  const sampler = setInterval(sample, SAMPLE_SECONDS * 1000);
  sample();
  try {
    while ((performance.now() - started) / 1000 < SECONDS) {
      const left = SECONDS - (performance.now() - started) / 1000;
      const count = Math.max(1, Math.min(SESSION_FRAMES, Math.round(left * FPS)));
      const result = await runPipeline(
        {
          host: '127.0.0.1',
          framesPort: server.framesPort,
          controlPort: server.controlPort,
          metricsPort: 0,
          modelsDir: process.env.MODELS_DIR ?? 'models',
          source: 'fashion-mnist-test',
          count,
          fps: FPS,
        },
        { skipResults: true, onProgress: (processed) => (live = processed) },
      );
      live = 0;
      const counts = result.ledger.counts(result.sent);
      const dropped = Object.values(counts.dropped ?? {}).reduce((a, b) => a + b, 0);
      const invalid = Object.values(counts.invalid ?? {}).reduce((a, b) => a + b, 0);
      totals.sessions++;
      totals.sent += result.sent ?? 0;
      totals.processed += counts.processed;
      totals.dropped += dropped;
      totals.invalid += invalid;
      totals.missing += counts.missing ?? 0;
      if (!result.reconciliation.reconciled) totals.unreconciled++;
    }
    sample();
  } finally {
    clearInterval(sampler);
    delay.disable();
    await server.stop();
    await rm(resultsDir, { recursive: true, force: true });
  }
  // The first minute is warm-up (model load, JIT, pools): the slope is over the samples after it.
  const steady = samples.filter((s) => s.t >= Math.min(60, SECONDS / 3));
  const perMinute = (key) => Math.round(slope(steady.map((s) => ({ x: s.t / 60, y: s[key] }))) * 100) / 100;
  const unaccounted = totals.sent - totals.processed - totals.dropped - totals.invalid - totals.missing;
  return {
    name: 'soak',
    rows: samples,
    notes: [
      `${SECONDS} s at ${FPS} fps: ${totals.sessions} sessions, ${totals.sent} frames sent, ${totals.processed} processed, ${totals.dropped} dropped, ${totals.invalid} invalid, ${totals.missing} missing, ${unaccounted} unaccounted, ${totals.unreconciled} sessions not reconciled`,
      `RSS slope after warm-up: client ${perMinute('clientRssMB')} MB/min, server ${perMinute('serverRssMB')} MB/min (${steady.length} samples)`,
    ],
    totals,
    rssSlopeMBPerMinute: { client: perMinute('clientRssMB'), server: perMinute('serverRssMB') },
  };
}
