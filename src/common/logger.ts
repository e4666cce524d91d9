import winston from 'winston';
import { LOG_FIELD_LIMIT, boundedFields } from './text.js';

/** Log levels accepted in LOG_LEVEL, most to least severe. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function levelFromEnv(): LogLevel {
  const level = process.env.LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : 'info';
}

/**
 * Every string of a log record bounded (the message and each field, nested ones too): a peer that sends a
 * 64 MiB id must not get a 64 MB log line.
 */
const boundStrings = winston.format((info) => {
  for (const key of Object.keys(info)) info[key] = boundedFields(info[key], LOG_FIELD_LIMIT);
  return info;
});

/**
 * The process-wide logger: JSON lines on stderr, so that stdout stays free for a command's own output
 * (a report path, a summary) and a pipe never mixes the two.
 */
export const logger = winston.createLogger({
  level: levelFromEnv(),
  format: winston.format.combine(boundStrings(), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] })],
});

/**
 * A child logger that stamps every line with the component that wrote it, named `<stage>.<part>`
 * (`processing.listener`, `stream.server`) or `<command>[.<part>]` (`run`, `run.plan`). Messages are
 * fixed text; what varies goes in fields (`detail` for a one-line explanation).
 */
export function loggerFor(component: string): winston.Logger {
  return logger.child({ component });
}

/**
 * A logger for words meant for a person at a terminal (a run's closing summary): plain text lines on
 * stdout, still through winston.
 */
export const humanLogger = winston.createLogger({
  level: 'info',
  format: winston.format.printf(({ message }) => String(message)),
  transports: [new winston.transports.Console()],
});

export function setLogLevel(level: LogLevel): void {
  logger.level = level;
}
