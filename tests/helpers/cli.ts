/**
 * The compiled CLI (`node dist/cli.js`) as a user runs it, in a child process: run to its exit and collect
 * its output (`runCli`), or start a long-running command and wait for its JSON log lines (`startCli`).
 * Needs `npm run build` (npm test runs it first).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/common/paths.js';

export const CLI = path.join(PROJECT_ROOT, 'dist', 'cli.js');

export interface CliExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to the test process's environment (LOG_LEVEL defaults to warn). */
  env?: NodeJS.ProcessEnv;
  /** Run as another user (uid/gid), e.g. nobody so that an unreadable folder is unreadable. */
  user?: Pick<SpawnOptions, 'uid' | 'gid'>;
}

function spawnCli(args: string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    ...options.user,
    env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI to its exit; `onSpawn` gets a function that sends it SIGINT (Ctrl-C). */
export function runCli(
  args: string[],
  options: CliOptions = {},
  onSpawn?: (interrupt: () => void) => void,
): Promise<CliExit> {
  return new Promise((resolve) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(() => child.kill('SIGINT'));
  });
}

/** The one line the CLI prints for a user error (logs are JSON lines; this one is not). */
export function userLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('framesift: '));
}

export interface RunningCli {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** The JSON log lines written so far. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Resolves with the first JSON log line matching `test` (already written or to come). */
  logLine(test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** Starts a long-running command (serve, run, app) and follows its log; LOG_LEVEL defaults to info. */
export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawnCli(args, { ...options, env: { LOG_LEVEL: 'info', ...options.env } });
  const waiters = new Set<() => void>();
  let partial = '';
  const proc: RunningCli = {
    child,
    stdout: '',
    stderr: '',
    logs: [],
    exited: new Promise((resolve) => child.once('exit', resolve)),
    logLine(test) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = proc.logs.find(test);
          if (!line) return;
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
        check();
        void proc.exited.then((code) => {
          if (waiters.delete(check)) reject(new Error(`the CLI exited (${code}) before the log line came`));
        });
      });
    },
  };
  child.stdout!.on('data', (d: Buffer) => (proc.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    proc.stderr += text;
    partial += text;
    let newline: number;
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      if (!line.startsWith('{')) continue; // the one-line user error is not a log line
      try {
        proc.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        continue;
      }
      for (const check of [...waiters]) check();
    }
  });
  return proc;
}
