/**
 * The session ledger's defects, against a stand-in server that sends exactly the frames given and the real
 * pipeline and model: a wild seq (with and without an announced count) never stalls the run nor is stored,
 * a `session` without `source` still yields a valid results folder, and both ends judge alike.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineConfig } from '../../../src/commands/run.js';
import type { ResultsDocument } from '../../../src/common/results-document.js';
import { startStandInServer, type StandInFrame } from '../../helpers/stand-in-server.js';
import { testModel } from './helpers.js';

const { ref: MODEL } = testModel();
const WILD = 0xfffffff0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'framesift-ledger-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runAgainst(
  frames: StandInFrame[],
  session: { count?: number; source?: string },
  extra: Partial<PipelineConfig> = {},
) {
  const server = await startStandInServer({ frames, session });
  try {
    const result = await runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        out: path.join(dir, 'out'),
        workers: 1,
        fps: 0,
        ...extra,
      },
      { model: MODEL },
    );
    const document = JSON.parse(
      await readFile(path.join(result.written!.folder, 'results.json'), 'utf8'),
    ) as ResultsDocument;
    return { result, document, scored: server.scored };
  } finally {
    await server.close();
  }
}

const tenFrames = (replace?: { at: number; seq: number }): StandInFrame[] =>
  Array.from({ length: 10 }, (_, i) => ({ seq: replace?.at === i ? replace.seq : i, image: i }));

describe('a wild seq', () => {
  it('beyond the announced count: invalid, never stored, the run finishes and both ends agree', async () => {
    const { result, document, scored } = await runAgainst(tenFrames({ at: 5, seq: WILD }), { count: 10 });
    expect(result.ledger.maxSeq).toBe(9);
    expect(document.counts).toEqual({
      sent: 10,
      received: 10,
      processed: 9,
      dropped: {},
      invalid: { 'seq-out-of-range': 1 },
      missing: 1,
    });
    expect(document.reconciliation).toMatchObject({
      reconciled: true,
      missingRanges: [[5, 5]],
      unattributed: 1,
    });
    expect(document.verdict).toMatchObject({ complete: false, reasons: ['frames-missing'] });
    expect(document.predictions.seq).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    expect(scored).toHaveLength(1);
    expect(scored[0]).toMatchObject({ reconciled: true, verdict: document.verdict });
  });

  it('with no count announced: counted out of range once the server says how many it sent, never as processed', async () => {
    const frames = [...tenFrames().slice(0, 9), { seq: WILD, image: 9 }];
    const { result, document, scored } = await runAgainst(frames, {});
    expect(result.session.count).toBeUndefined();
    expect(document.counts).toEqual({
      sent: 10,
      received: 10,
      processed: 9,
      dropped: {},
      invalid: { 'seq-out-of-range': 1 },
      missing: 1,
    });
    expect(document.reconciliation.missingRanges).toEqual([[9, 9]]);
    expect(document.predictions.seq).not.toContain(WILD);
    expect(document.samples.map((s) => s.seq)).not.toContain(WILD);
    expect(scored[0]).toMatchObject({ reconciled: true, verdict: document.verdict });
    expect(scored[0]!.serverReconciliation).toMatchObject({ predictionsOutsideSession: 0 });
  });
});

describe('a session message without the optional fields', () => {
  it('without `source`: the document names what the client asked for, validates and is scored', async () => {
    const asked = await runAgainst(tenFrames(), { count: 10 }, { source: 'fashion-mnist-test' });
    expect(asked.document.source.name).toBe('fashion-mnist-test');
    expect(asked.document.verdict).toMatchObject({ complete: true });
    expect(asked.scored[0]).toMatchObject({ accuracy: expect.any(Number), reconciled: true });
    const unnamed = await runAgainst(tenFrames(), { count: 10 });
    expect(unnamed.document.source.name).toBe('server-default');
    expect(unnamed.scored).toHaveLength(1);
  });
});
