/**
 * The analysis worker as a child process (a process pool, process-pool.ts): the same runtime as a worker
 * thread, fed over the IPC channel. Its first message is its AnalysisWorkerData; each later one is a task,
 * answered with its result or its error's message. It exits when its parent goes away.
 */
import type { AnalysisTask } from './tasks.js';
import { workerRuntime, type AnalysisWorkerData } from './worker-runtime.js';

/** Parent → child. */
export type ToProcessWorker =
  | { type: 'init'; data: AnalysisWorkerData }
  | { type: 'task'; id: number; task: AnalysisTask };
/** Child → parent. */
export type FromProcessWorker =
  | { type: 'ready' }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'failed'; id: number; message: string };

const send = (message: FromProcessWorker): void => {
  // A parent gone mid-task (Ctrl-C) gets no answer: the callback takes the write error, and 'disconnect'
  // ends this process.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
};

let run: ((task: AnalysisTask) => Promise<unknown>) | undefined;

process.on('message', (message: ToProcessWorker) => {
  if (message.type === 'init') {
    run = workerRuntime(message.data, process.pid);
    send({ type: 'ready' });
    return;
  }
  const { id, task } = message;
  if (!run) {
    send({ type: 'failed', id, message: 'analysis process: a task came before its start-up data' });
    return;
  }
  run(task).then(
    (result) => send({ type: 'done', id, result }),
    (err: unknown) => send({ type: 'failed', id, message: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: the parent decides what it ends, and this process then
// follows its channel closing.
process.on('SIGINT', () => undefined);
