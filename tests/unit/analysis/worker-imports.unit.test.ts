/**
 * What an analysis worker loads: the worker module and its task handlers, imported in a real worker thread
 * as the pool starts them (from dist/), must not load the vector index (hnswlib-node), an HTTP server or
 * WebSockets. Workers use dedupe only through its pure per-frame face (dedupe/features). The whole dedupe
 * stage, imported the same way, does load them: the check can fail.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

const DIST = path.join(PROJECT_ROOT, 'dist');

interface Loaded {
  /** Node built-in modules loaded in the thread. */
  builtins: string[];
  /** CommonJS files loaded in the thread (npm packages, native addons). */
  files: string[];
}

/** Imports `modules` (dist-relative) in a fresh worker thread and reports what the thread loaded. */
function loadedInWorker(modules: string[]): Promise<Loaded> {
  const urls = modules.map((m) => pathToFileURL(path.join(DIST, m)).href);
  const code = `
    const { parentPort } = require('node:worker_threads');
    (async () => {
      for (const url of ${JSON.stringify(urls)}) await import(url);
      parentPort.postMessage({
        builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
        files: Object.keys(require.cache),
      });
    })().catch((err) => parentPort.postMessage({ error: String(err && err.stack) }));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, {
      eval: true,
      workerData: { modelsDir: path.join(PROJECT_ROOT, 'models'), intraOpThreads: 1 },
    });
    worker.once('message', (message: Loaded & { error?: string }) => {
      void worker.terminate();
      if (message.error) reject(new Error(message.error));
      else resolve(message);
    });
    worker.once('error', reject);
  });
}

const heavy = (loaded: Loaded) => ({
  http: loaded.builtins.filter((m) => m === 'http' || m === 'https'),
  packages: loaded.files.filter((f) => /node_modules\/(hnswlib-node|ws)\//.test(f)),
});

describe('an analysis worker thread', () => {
  it('loads no vector index, HTTP server or WebSocket library', async () => {
    const loaded = await loadedInWorker([
      'analysis/worker.js',
      'analysis/tasks/classify.js',
      'analysis/tasks/images.js',
      'analysis/tasks/warmup.js',
    ]);
    expect(loaded.files.some((f) => f.includes('node_modules/onnxruntime-node/'))).toBe(true);
    expect(heavy(loaded)).toEqual({ http: [], packages: [] });
  });

  it('would load them through the whole dedupe stage (the check sees them)', async () => {
    const loaded = heavy(await loadedInWorker(['dedupe/index.js']));
    expect(loaded.http).toContain('http');
    expect(loaded.packages.some((f) => f.includes('hnswlib-node'))).toBe(true);
  });
});
