/** The analysis worker as a Piscina worker thread: its data comes with the thread (workerData). */
import { threadId, workerData } from 'node:worker_threads';
import type { AnalysisTask } from './tasks.js';
import { workerRuntime, type AnalysisWorkerData } from './worker-runtime.js';

export type { AnalysisWorkerData } from './worker-runtime.js';

const run = workerRuntime(workerData as AnalysisWorkerData, threadId);

export default function runTask(task: AnalysisTask): Promise<unknown> {
  return run(task);
}
