// `npm run bench -- fuzz`: at least 100,000 hostile messages against the stream server (control and frame
// ports) and a run's HTTP port, from a seed (BENCH_FUZZ_SEED, default 1) so a failure reproduces. Reports
// crashes (must be 0), violated expectations (must be 0), errors by code, HTTP answers by status, the
// slowest status round trip during the flood, and the target's RSS before and after.
//
// Knobs: BENCH_FUZZ_MESSAGES (100000 control messages), BENCH_FUZZ_FRAMES (2000 frame-socket attempts),
// BENCH_FUZZ_HTTP (20000 requests), BENCH_FUZZ_SEED (1).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expiryStorm, runFuzz, startTarget, submitStall } from './fuzz/driver.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_FUZZ_MESSAGES ?? 100_000);
const FRAMES = Number(process.env.BENCH_FUZZ_FRAMES ?? 2000);
const HTTP = Number(process.env.BENCH_FUZZ_HTTP ?? 20_000);
const SEED = Number(process.env.BENCH_FUZZ_SEED ?? 1);

export async function run() {
  const resultsDir = await mkdtemp(path.join(os.tmpdir(), 'framesift-fuzz-results-'));
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'framesift-fuzz-out-'));
  const target = await startTarget({
    resultsDir,
    outDir,
    fashionMnistDir: process.env.FASHION_MNIST_DIR ?? path.join(root, 'data', 'fashion-mnist'),
  });
  const rssBefore = await target.rss();
  const started = performance.now();
  let stats;
  let storm;
  let stall;
  try {
    // 5,000 starts that never connect, over 50 connections, then the wait for their expiry.
    storm = await expiryStorm(target, { connections: 50, startsEach: 100 });
    // A 12 MB submission (under the 16 MiB default limit) while another connection asks for status.
    stall = await submitStall(target, { megabytes: 12 });
    stats = await runFuzz(target, {
      seed: SEED,
      controlMessages: MESSAGES,
      frameAttempts: FRAMES,
      httpRequests: HTTP,
      forbiddenStrings: [resultsDir, outDir],
    });
  } finally {
    var rssAfter = target.state.exited ? NaN : await target.rss();
    await target.stop();
    await rm(resultsDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  const crashes = target.state.code !== 0 && target.state.code !== null ? 1 : 0;
  const mb = (b) => Math.round((b / 1024 / 1024) * 10) / 10;
  const rows = [
    {
      seed: SEED,
      control: stats.controlSent,
      frameAttempts: stats.frameAttempts,
      http: stats.httpSent,
      total: stats.controlSent + stats.frameAttempts + stats.httpSent,
      crashes,
      violations: stats.violations.length,
      maxStatusMs: Math.round(stats.maxStatusMs),
      rssBeforeMB: mb(rssBefore),
      rssAfterMB: mb(rssAfter),
      seconds,
    },
  ];
  const byCount = (o) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return {
    name: 'fuzz',
    rows,
    notes: [
      `control errors by code: ${byCount(stats.controlErrors)}`,
      `control replies: ${byCount(stats.controlReplies)}; control closes: ${byCount(stats.controlCloses)}; reconnects ${stats.reconnects}`,
      `frame port: ${byCount(stats.frameErrors)}; closes ${byCount(stats.frameCloses)}; frames received ${stats.framesReceived}`,
      `HTTP by status: ${byCount(stats.httpStatus)}`,
      `large submit: ${(stall.bytes / 1e6).toFixed(1)} MB answered ${stall.answer} after ${Math.round(stall.answerMs)} ms; slowest status round trip meanwhile ${Math.round(stall.maxStatusMs)} ms`,
      `expiry storm (5,000 starts that never connect, 50 connections): ${storm.accepted} accepted, ${storm.refused} refused too-many-sessions, ${storm.expired} expired; slowest status round trip while they expired ${Math.round(storm.maxStatusMs)} ms (${storm.samples} probes)`,
      ...[...new Set(stats.violations)].slice(0, 10).map((v) => `violation: ${v}`),
    ],
    stats,
    storm,
    stall,
  };
}
