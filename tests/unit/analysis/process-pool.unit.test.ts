/**
 * The analysis pool as child processes: the same features as worker threads, bit for bit, on real photos;
 * errors cross the process boundary as one line; a process that dies takes only its own tasks with it (they
 * fail naming it) and is replaced.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnalysisPool, type AnalysisPool } from '../../../src/analysis/index.js';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { CALTECH, MODELS_DIR } from '../../test-data.js';

const EMBEDDER = 'mobilenet-v3-small-075';
const PHOTOS = readdirSync(CALTECH)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .map((f) => path.join(CALTECH, f));

describe('analysis pool of processes', () => {
  let processes: AnalysisPool;
  let tmp: string;
  beforeAll(async () => {
    processes = createAnalysisPool({
      threads: 2,
      intraOpThreads: 1,
      modelsDir: MODELS_DIR,
      isolation: 'processes',
    });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'framesift-process-pool-'));
  });
  afterAll(async () => {
    await processes?.destroy();
    await rm(tmp, { recursive: true, force: true });
  });

  it('computes the same cnn features as worker threads, in separate processes', async () => {
    const files = PHOTOS.slice(0, 24);
    const threads = createAnalysisPool({ threads: 1, intraOpThreads: 1, modelsDir: MODELS_DIR });
    try {
      const task = { kind: 'images', method: 'cnn', model: EMBEDDER, files } as const;
      const [inThread, inProcesses] = await Promise.all([
        threads.run(task),
        Promise.all([
          processes.run({ ...task, files: files.slice(0, 12) }),
          processes.run({ ...task, files: files.slice(12) }),
        ]),
      ]);
      expect(inThread.count).toBe(24);
      expect(inProcesses.map((r) => r.count)).toEqual([12, 12]);
      const embeddings = new Float32Array(inThread.embeddings!.length);
      embeddings.set(inProcesses[0].embeddings!, 0);
      embeddings.set(inProcesses[1].embeddings!, inProcesses[0].embeddings!.length);
      expect(embeddings).toEqual(inThread.embeddings);
      const layouts = new Float32Array(inThread.layouts!.length);
      layouts.set(inProcesses[0].layouts!, 0);
      layouts.set(inProcesses[1].layouts!, inProcesses[0].layouts!.length);
      expect(layouts).toEqual(inThread.layouts);
      // Each result names the process that computed it, not this one.
      for (const r of inProcesses) {
        expect(r.threadId).not.toBe(process.pid);
        expect(r.threadId).toBeGreaterThan(0);
      }
    } finally {
      await threads.destroy();
    }
  });

  it('reports an undecodable file in its result and names a missing model, as threads do', async () => {
    const bad = path.join(tmp, 'not-a-photo.jpg');
    await writeFile(bad, 'not a jpeg at all');
    const result = await processes.run({
      kind: 'images',
      method: 'cnn',
      model: EMBEDDER,
      files: [PHOTOS[0]!, bad],
    });
    expect(result.count).toBe(2);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ index: 1 });
    expect(result.failed[0]!.message).toContain('not-a-photo.jpg');
    await expect(processes.warmup('no-such-model')).rejects.toThrow(/no-such-model/);
  });

  it('takes no frame ring', () => {
    expect(() => processes.attachRing(FrameRing.create({ slots: 2, slotBytes: 16 }))).toThrow(
      /process pool cannot read a frame ring/,
    );
  });

  it('fails the tasks of a process that dies, naming it, and replaces the process', async () => {
    const single = createAnalysisPool({
      threads: 1,
      intraOpThreads: 1,
      modelsDir: MODELS_DIR,
      isolation: 'processes',
    });
    try {
      const [warm] = await single.warmup(EMBEDDER);
      const pid = warm!.threadId;
      const doomed = single.run({ kind: 'images', method: 'cnn', model: EMBEDDER, files: PHOTOS });
      process.kill(pid, 'SIGKILL');
      await expect(doomed).rejects.toThrow(new RegExp(`analysis process ${pid} exited with signal SIGKILL`));
      const after = await single.run({
        kind: 'images',
        method: 'cnn',
        model: EMBEDDER,
        files: PHOTOS.slice(0, 2),
      });
      expect(after.count).toBe(2);
      expect(after.failed).toEqual([]);
      expect(after.threadId).not.toBe(pid);
    } finally {
      await single.destroy();
    }
  });
});
