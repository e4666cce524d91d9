/**
 * Every output of a session tells the same story: the run log's "session finished", the terminal summary,
 * results.json and the server's `scored` report the same counts and the same verdict — for a normal session,
 * one with forced drops, one with a wild seq, and one interrupted mid-stream.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineResult } from '../../../src/commands/run.js';
import type { ResultsDocument } from '../../../src/common/results-document.js';
import { captureLogs, type LogEntry } from '../../helpers/log-capture.js';
import { startStandInServer } from '../../helpers/stand-in-server.js';
import { startServerFixture, testModel, type ServerFixture } from './helpers.js';

const { ref: MODEL } = testModel();

let fixture: ServerFixture;
beforeAll(async () => {
  fixture = await startServerFixture('consistency');
});
afterAll(async () => {
  await fixture.close();
});

async function captured(run: () => Promise<PipelineResult>) {
  const logs = captureLogs();
  try {
    const result = await run();
    const document = JSON.parse(
      await readFile(path.join(result.written!.folder, 'results.json'), 'utf8'),
    ) as ResultsDocument;
    return { result, document, logs: logs.entries };
  } finally {
    logs.stop();
  }
}

function expectOneStory(result: PipelineResult, document: ResultsDocument, logs: LogEntry[]): void {
  const c = document.counts;
  const verdict = document.verdict!;
  // The run log.
  const finished = logs.filter((e) => e.message === 'session finished' && e.sessionId === result.sessionId);
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({
    ...c,
    reconciled: document.reconciliation.reconciled,
    complete: verdict.complete,
    reasons: verdict.reasons,
  });
  // What the pipeline returned is what was written.
  expect(result.ledger.counts(result.sent)).toEqual(c);
  expect(result.verdict).toEqual(verdict);
  // The terminal summary.
  const summary = result.summary!;
  const total = (by: Record<string, number>) => Object.values(by).reduce((a, b) => a + b, 0);
  expect(summary).toContain(
    `sent ${c.sent ?? '?'} · received ${c.received} · processed ${c.processed} · dropped ${total(c.dropped)}`,
  );
  expect(summary).toContain(`invalid ${total(c.invalid)}`);
  expect(summary).toContain(`missing ${c.missing}`);
  expect(summary).toContain(`reconcile ${document.reconciliation.reconciled ? 'OK' : 'FAILED'}`);
  expect(summary).toContain(`verdict   ${verdict.complete ? 'complete' : verdict.explanation}`);
  expect(summary).toContain(`server reconciled ${document.reconciliation.reconciled ? 'yes' : 'no'}`);
  // The server's `scored`.
  expect(result.scored).toMatchObject({
    sessionId: result.sessionId,
    sent: c.sent,
    received: c.received,
    reconciled: document.reconciliation.reconciled,
    verdict,
  });
}

describe('one story across the run log, the terminal summary, results.json and scored', () => {
  it('a normal session', async () => {
    const { result, document, logs } = await captured(() =>
      runPipeline({ ...fixture.base, count: 200 }, { model: MODEL }),
    );
    expectOneStory(result, document, logs);
    expect(document.verdict).toMatchObject({ complete: true, reasons: [] });
    // The server's own log line says the same.
    const scoredLog = logs.find((e) => e.message === 'submission scored' && e.sessionId === result.sessionId);
    expect(scoredLog).toMatchObject({ reconciled: true, complete: true });
  });

  it('a session with forced drops (drop-oldest behind a slow worker)', async () => {
    const { result, document, logs } = await captured(() =>
      runPipeline(
        { ...fixture.base, count: 300, ringSlots: 16, batchSize: 4, ringPolicy: 'drop-oldest' },
        { model: MODEL, testHooks: { delayMs: 5 } },
      ),
    );
    expect(document.counts.dropped['ring-full']).toBeGreaterThan(0);
    expectOneStory(result, document, logs);
    expect(document.reconciliation.reconciled).toBe(true);
  });

  it('a session with a wild seq', async () => {
    const server = await startStandInServer({
      frames: Array.from({ length: 10 }, (_, i) => ({ seq: i === 3 ? 0xfffffff0 : i, image: i })),
      session: { count: 10, source: 'fashion-mnist-test' },
    });
    try {
      const { result, document, logs } = await captured(() =>
        runPipeline(
          { ...fixture.base, framesPort: server.framesPort, controlPort: server.controlPort },
          { model: MODEL },
        ),
      );
      expect(document.counts.invalid).toEqual({ 'seq-out-of-range': 1 });
      expectOneStory(result, document, logs);
      expect(document.verdict).toMatchObject({ complete: false, reasons: ['frames-missing'] });
    } finally {
      await server.close();
    }
  });

  it('a session interrupted mid-stream', async () => {
    const abort = new AbortController();
    const { result, document, logs } = await captured(() =>
      runPipeline(
        { ...fixture.base, count: 3000, fps: 500 },
        { model: MODEL, signal: abort.signal, onProgress: (n) => n >= 50 && abort.abort() },
      ),
    );
    expect(result.stoppedByUser).toBe(true);
    expect(document.counts.sent).toBeLessThan(3000);
    expectOneStory(result, document, logs);
    expect(document.verdict!.reasons).toContain('stopped');
  });
});
