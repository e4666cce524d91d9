/**
 * The results stage at the end of a real session: stream server + `run` + the project's model on real
 * Fashion-MNIST frames. Every file a person or a script opens must be there and agree with the server.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineResult } from '../../../src/commands/run.js';
import { validateResultsDocument } from '../../../src/common/results-document.js';
import { loadFashionMnist } from '../../../src/stream/fashion-mnist.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { expectResultsFolderFiles } from './folder-files.js';

const COUNT = 500;

describe('results of a full session', () => {
  let server: StreamServer;
  let dir: string;
  let result: PipelineResult;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'framesift-results-session-'));
    server = await startStreamServer({ framesPort: 0, controlPort: 0, resultsDir: path.join(dir, 'server') });
    result = await runPipeline({
      host: '127.0.0.1',
      framesPort: server.framesPort,
      controlPort: server.controlPort,
      metricsPort: 0,
      out: path.join(dir, 'out'),
      count: COUNT,
      fps: 0,
      workers: 1,
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every file of the results folder', async () => {
    const folder = result.written!.folder;
    expectResultsFolderFiles(folder, ['score.json']);
    const cards = (await readdir(path.join(folder, 'samples'))).filter((name) => name.endsWith('.png'));
    expect(cards).toHaveLength(10);
  });

  it('results.json validates, and the server accuracy equals the one computed from it locally', async () => {
    const folder = result.written!.folder;
    const document = JSON.parse(await readFile(path.join(folder, 'results.json'), 'utf8')) as unknown;
    const validated = validateResultsDocument(document);
    expect(validated.ok, validated.ok ? '' : validated.errors).toBe(true);
    if (!validated.ok) return;
    const { seq, label } = validated.document.predictions;
    expect(seq).toHaveLength(COUNT);

    const truth = (await loadFashionMnist('test')).labels;
    const correct = seq.filter((s, i) => truth[s] === label[i]).length;
    const score = JSON.parse(await readFile(path.join(folder, 'score.json'), 'utf8')) as {
      accuracy: number;
      reconciled: boolean;
    };
    expect(score.accuracy).toBeCloseTo(correct / COUNT, 12);
    expect(score.reconciled).toBe(true);
    expect(validated.document.reconciliation.reconciled).toBe(true);
    // A real model on real frames: far above chance, as the model card promises.
    expect(score.accuracy).toBeGreaterThan(0.85);
  });

  it('summary.md carries the counts and the score; metrics.json the same figures', async () => {
    const folder = result.written!.folder;
    const summary = await readFile(path.join(folder, 'summary.md'), 'utf8');
    expect(summary).toContain(String(COUNT));
    expect(summary.toLowerCase()).toContain('accuracy');
    expect(summary.toLowerCase()).toContain('confusion');
    const metrics = JSON.parse(await readFile(path.join(folder, 'metrics.json'), 'utf8')) as {
      predicted: number;
      reconciled: boolean;
      score?: { accuracy: number };
    };
    expect(metrics.predicted).toBe(COUNT);
    expect(metrics.reconciled).toBe(true);
    expect(metrics.score?.accuracy).toBe(result.scored!.accuracy);
  });

  it('sample cards are at least 112×112 and not blank after scoring', async () => {
    const folder = result.written!.folder;
    const cards = (await readdir(path.join(folder, 'samples'))).filter((name) => name.endsWith('.png'));
    for (const card of cards) {
      const image = sharp(path.join(folder, 'samples', card));
      const { width, height } = await image.metadata();
      expect(width).toBeGreaterThanOrEqual(112);
      expect(height).toBeGreaterThanOrEqual(112);
      const stats = await image.stats();
      expect(stats.channels[0]!.stdev, card).toBeGreaterThan(10);
    }
  });
});
