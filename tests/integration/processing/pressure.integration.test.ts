/**
 * The pipeline under pressure, against the real stream server and the real model: a slow worker with a
 * tiny ring under each ring policy, a worker that throws on one batch, and /metrics scraped mid-session.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineConfig } from '../../../src/commands/run.js';
import type { HttpServer } from '../../../src/common/http.js';
import type { ResultsDocument } from '../../../src/common/results-document.js';
import { startStreamServer } from '../../../src/stream/index.js';
import { startServerFixture, testModel, type ServerFixture } from './helpers.js';

const { ref: MODEL } = testModel();

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('run under pressure', () => {
  let fixture: ServerFixture;
  let dir: string;
  let base: Partial<PipelineConfig>;
  beforeAll(async () => {
    fixture = await startServerFixture('pressure', { ringSlots: 24, batchSize: 8, batchWaitMs: 1 });
    ({ dir, base } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('block: a slow worker and a tiny ring pause the socket and lose nothing', async () => {
    const result = await runPipeline(
      { ...base, count: 600, ringPolicy: 'block' },
      { model: MODEL, testHooks: { delayMs: 5 } },
    );
    expect(result.pauses).toBeGreaterThan(0);
    expect(result.ledger.counts(result.sent)).toEqual({
      sent: 600,
      received: 600,
      processed: 600,
      dropped: {},
      invalid: {},
      missing: 0,
    });
    expect(result.scored).toMatchObject({ received: 600, reconciled: true, coverage: 1 });
  });

  it('drop-oldest: frames are dropped with a reason and the counts reconcile exactly', async () => {
    const result = await runPipeline(
      { ...base, count: 600, ringPolicy: 'drop-oldest' },
      { model: MODEL, testHooks: { delayMs: 5 } },
    );
    const counts = result.ledger.counts(result.sent);
    expect(counts.sent).toBe(600);
    expect(counts.received).toBe(600);
    expect(counts.missing).toBe(0);
    expect(Object.keys(counts.dropped)).toEqual(['ring-full']);
    expect(counts.dropped['ring-full']).toBeGreaterThan(0);
    expect(counts.processed + sum(counts.dropped) + sum(counts.invalid)).toBe(600);
    expect(result.recorder.predictions.columns().seq.length).toBe(counts.processed);
    expect(result.ledger.reconcile(result.sent).reconciled).toBe(true);
    expect(result.scored).toMatchObject({ received: 600, reconciled: true });
    expect(result.written!.document.counts.dropped).toEqual(counts.dropped);
  });

  it('a worker that throws on one batch: its frames are dropped as worker-error and the session goes on', async () => {
    const result = await runPipeline(
      { ...base, count: 300, ringSlots: 256, batchSize: 16 },
      { model: MODEL, testHooks: { failBatch: 2 } },
    );
    const counts = result.ledger.counts(result.sent);
    expect(counts.dropped['worker-error']).toBeGreaterThan(0);
    expect(counts.dropped['worker-error']).toBeLessThanOrEqual(16);
    expect(counts.processed + counts.dropped['worker-error']!).toBe(300);
    expect(counts.received).toBe(300);
    expect(result.ledger.reconcile(result.sent).reconciled).toBe(true);
    expect(result.scored!.coverage).toBeCloseTo(counts.processed / 300, 10);
  });

  it('stopping mid-session (Ctrl-C) sends stop, finishes what was received and still scores it', async () => {
    const abort = new AbortController();
    const result = await runPipeline(
      { ...base, count: 5000, fps: 500, ringSlots: 256, batchSize: 16 },
      { model: MODEL, signal: abort.signal, onProgress: (n) => n >= 100 && abort.abort() },
    );
    expect(result.stoppedByUser).toBe(true);
    const counts = result.ledger.counts(result.sent);
    expect(counts.sent).toBeGreaterThanOrEqual(100);
    expect(counts.sent).toBeLessThan(5000);
    expect(counts.received).toBeLessThanOrEqual(counts.sent!);
    expect(counts.processed + sum(counts.dropped) + sum(counts.invalid)).toBe(counts.received);
    expect(counts.received + counts.missing).toBe(counts.sent);
    expect(result.scored).toMatchObject({ sent: counts.sent, received: counts.received });
  });

  it('a server that goes away mid-session: the run reports a one-line reason and still writes the results, marked incomplete', async () => {
    const doomed = await startStreamServer({
      framesPort: 0,
      controlPort: 0,
      resultsDir: path.join(dir, 'doomed'),
    });
    let closing: Promise<void> | undefined;
    const run = runPipeline(
      { ...base, framesPort: doomed.framesPort, controlPort: doomed.controlPort, count: 5000, fps: 1000 },
      { model: MODEL, onProgress: (n) => n >= 50 && (closing ??= doomed.close()) },
    );
    const result = await run;
    await closing;
    expect(result.failure).toMatch(/^session \S+ failed: /);
    expect(result.verdict.complete).toBe(false);
    expect(result.verdict.reasons.filter((r) => r === 'control-closed' || r === 'no-end')).toHaveLength(1);
    // Nothing processed is lost: the folder is there, and results.json says why it is incomplete.
    const written = JSON.parse(
      await readFile(path.join(result.written!.folder, 'results.json'), 'utf8'),
    ) as ResultsDocument;
    expect(written.verdict).toEqual(result.verdict);
    expect(written.counts.processed).toBe(result.ledger.processed);
    expect(result.ledger.processed).toBeGreaterThanOrEqual(50);
  });

  it('serves /metrics mid-session with the pipeline metrics and process metrics', async () => {
    let http: HttpServer | undefined;
    let scrape: Promise<string> | undefined;
    const result = await runPipeline(
      { ...base, count: 400, ringSlots: 64, batchSize: 16 },
      {
        model: MODEL,
        testHooks: { delayMs: 3 },
        onMetricsServer: (s) => (http = s),
        onProgress: (processed) => {
          if (!scrape && processed >= 100) scrape = fetch(`${http!.url}/metrics`).then((r) => r.text());
        },
      },
    );
    expect(result.ledger.processed).toBe(400);
    const text = await scrape!;
    const value = (name: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.split(' ')[1]) : NaN;
    };
    expect(value('framesift_frames_received_total')).toBeGreaterThanOrEqual(100);
    expect(value('framesift_frames_processed_total')).toBeGreaterThanOrEqual(100);
    expect(value('framesift_ring_depth')).toBeGreaterThanOrEqual(0);
    expect(value('framesift_batches_in_flight')).toBeGreaterThanOrEqual(1);
    expect(value('framesift_inference_latency_seconds_count')).toBeGreaterThan(0);
    expect(value('framesift_batch_size_count')).toBeGreaterThan(0);
    expect(value('framesift_end_to_end_latency_seconds_count')).toBeGreaterThanOrEqual(100);
    expect(value('framesift_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toMatch(/# TYPE framesift_frames_dropped_total counter/);
    expect(text).toMatch(/# TYPE framesift_frames_invalid_total counter/);
  });
});
