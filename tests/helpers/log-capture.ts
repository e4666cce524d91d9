/** Captures what the process-wide winston logger writes, as the objects it logs (a real transport). */
import { Writable } from 'node:stream';
import winston from 'winston';
import { logger } from '../../src/common/logger.js';

export type LogEntry = Record<string, unknown> & { message: string; level: string };

export interface LogCapture {
  entries: LogEntry[];
  /** Resolves when `count` entries matching `predicate` have been logged (those already logged count). */
  waitFor(predicate: (entry: LogEntry) => boolean, count?: number): Promise<void>;
  stop(): void;
}

export function captureLogs(): LogCapture {
  const entries: LogEntry[] = [];
  const waiters = new Set<() => void>();
  const stream = new Writable({
    objectMode: true,
    write(info: LogEntry, _encoding, done) {
      entries.push({ ...info });
      for (const check of [...waiters]) check();
      done();
    },
  });
  const transport = new winston.transports.Stream({ stream, level: 'info' });
  // The logger lets info through to the capture; the other transports keep the level they had.
  const level = logger.level;
  const others = logger.transports.map((t) => [t, t.level] as const);
  for (const [t] of others) t.level ??= level;
  logger.level = 'debug';
  logger.add(transport);
  return {
    entries,
    waitFor(predicate, count = 1) {
      return new Promise((resolve) => {
        const check = () => {
          if (entries.filter(predicate).length < count) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
    stop() {
      logger.remove(transport);
      for (const [t, was] of others) t.level = was;
      logger.level = level;
    },
  };
}
