/**
 * Analysis workers as child processes rather than threads, for work whose input travels by value (files,
 * encoded images). Two decode + inference workers in one process reach only ~0.75 of twice one worker's
 * rate on this kind of machine, two processes ~0.95: concurrent libvips pipelines of one process wait on
 * each other (docs/dedupe.md, "Threads or processes"). Frame-ring tasks need a thread pool: a process
 * cannot see the ring's SharedArrayBuffer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loggerFor } from '../common/logger.js';
import { compiledSibling } from '../common/paths.js';
import type { FromProcessWorker, ToProcessWorker } from './process-worker.js';
import type { AnalysisTask } from './tasks.js';
import type { AnalysisWorkerData } from './worker-runtime.js';

const log = loggerFor('analysis.processes');

/**
 * Tasks sent ahead to each process: the next batches wait there while the current one runs, so a process
 * stays busy while the main thread is (the keypoint check of a doubtful photo takes tens of ms there).
 */
const TASKS_PER_PROCESS = 6;
/** How long a process has to exit after its channel closes before it is killed. */
const EXIT_GRACE_MS = 2000;

interface Pending {
  task: AnalysisTask;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

interface Member {
  child: ChildProcess;
  ready: boolean;
  inFlight: Map<number, Pending>;
  exited: Promise<void>;
}

export class ProcessWorkers {
  private readonly members: Member[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  /** Set when the pool is destroyed, or a process died before it was ready (it would die again). */
  private closed: Error | undefined;

  constructor(
    readonly count: number,
    private readonly data: AnalysisWorkerData,
  ) {
    for (let i = 0; i < count; i++) this.members.push(this.spawn());
  }

  run(task: AnalysisTask): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  async destroy(): Promise<void> {
    this.fail(new Error('the analysis pool was closed'));
    await Promise.all(
      this.members.map(async (member) => {
        if (member.child.connected) member.child.disconnect();
        const timer = setTimeout(() => member.child.kill('SIGKILL'), EXIT_GRACE_MS);
        await member.exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawn(): Member {
    const child = fork(compiledSibling(import.meta.url, 'process-worker.js'), [], {
      serialization: 'advanced',
      // Anything a worker prints goes to stderr: stdout is the command's own output (`--json`, a report path).
      stdio: ['ignore', 2, 'inherit', 'ipc'],
      // Not the parent's flags (a test runner's loaders, --inspect): the worker is plain compiled JS.
      execArgv: [],
    });
    const member: Member = {
      child,
      ready: false,
      inFlight: new Map(),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    child.on('message', (message: FromProcessWorker) => this.onMessage(member, message));
    child.once('exit', (code, signal) => this.onExit(member, code, signal));
    // A fork that fails outright (no such file, out of processes) also ends in 'exit'.
    child.on('error', (err) => log.error('analysis process error', { pid: child.pid, detail: err.message }));
    const init: ToProcessWorker = { type: 'init', data: this.data };
    child.send(init);
    return member;
  }

  private onMessage(member: Member, message: FromProcessWorker): void {
    if (message.type === 'ready') {
      member.ready = true;
      return;
    }
    const pending = member.inFlight.get(message.id);
    if (!pending) return;
    member.inFlight.delete(message.id);
    if (message.type === 'done') pending.resolve(message.result);
    else pending.reject(new Error(message.message));
    this.dispatch();
  }

  private onExit(member: Member, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const index = this.members.indexOf(member);
    if (this.closed) return;
    const err = new Error(`analysis process ${member.child.pid} exited with ${how}`);
    log.error('analysis process exited', { pid: member.child.pid, how, tasksLost: member.inFlight.size });
    rejectInFlight(member, err);
    if (!member.ready) {
      // It died starting up: a replacement would too, so every waiting task fails now.
      this.fail(err);
      return;
    }
    this.members[index] = this.spawn();
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Member | undefined;
      for (const member of this.members) {
        if (!member.child.connected || member.inFlight.size >= TASKS_PER_PROCESS) continue;
        if (!best || member.inFlight.size < best.inFlight.size) best = member;
      }
      if (!best) return;
      const pending = this.queue.shift()!;
      const id = this.nextId++;
      best.inFlight.set(id, pending);
      const message: ToProcessWorker = { type: 'task', id, task: pending.task };
      best.child.send(message);
    }
  }

  private fail(err: Error): void {
    this.closed ??= err;
    for (const pending of this.queue.splice(0)) pending.reject(err);
    for (const member of this.members) rejectInFlight(member, err);
  }
}

/** Fails the tasks a process holds (it died, or the pool is closing). */
function rejectInFlight(member: Member, err: Error): void {
  for (const pending of member.inFlight.values()) pending.reject(err);
  member.inFlight.clear();
}
