/**
 * framesift's errors. Each class sets `name` and carries a stable `code` that callers and tests match on
 * (never the message text); messages are one line that names the input and what was expected.
 */
export class FramesiftError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * An error a user can cause (a bad flag, a bad file, a bad message). The CLI prints its one line once and
 * exits with `exitCode` instead of a stack trace.
 */
export class UserError extends FramesiftError {
  constructor(
    message: string,
    readonly exitCode = 1,
    code = 'user-error',
  ) {
    super(message, code);
  }
}

/** A bad configuration value (flag or environment variable): exit code 2. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, 2, 'bad-config');
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
