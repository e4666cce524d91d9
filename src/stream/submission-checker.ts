/**
 * Runs submission checks (src/stream/submission-check.ts) on one worker thread, in order, with a bounded
 * queue: the server's event loop only hands the text over and gets the verdict back. The worker is
 * started on first use and restarted if it dies.
 */
import { Worker } from 'node:worker_threads';
import { compiledSibling } from '../common/paths.js';
import type { SubmissionCheck } from './submission-check.js';

export class SubmissionQueueFull extends Error {}

export class SubmissionChecker {
  private worker?: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, (result: SubmissionCheck) => void>();

  constructor(private readonly maxQueued = 8) {}

  /** Checks `text`; rejects with SubmissionQueueFull when `maxQueued` checks are already waiting. */
  check(text: string): Promise<SubmissionCheck> {
    if (this.pending.size >= this.maxQueued) return Promise.reject(new SubmissionQueueFull());
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, text });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(compiledSibling(import.meta.url, 'submission-worker.js'));
    worker.on('message', ({ id, result }: { id: number; result: SubmissionCheck }) => {
      const resolve = this.pending.get(id);
      this.pending.delete(id);
      resolve?.(result);
    });
    const fail = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, resolve] of this.pending) {
        this.pending.delete(id);
        resolve({ ok: false, code: 'internal', message: `submit: the checker stopped (${why})` });
      }
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit ${code}`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
