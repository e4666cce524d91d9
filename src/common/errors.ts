/**
 * An error a user can cause (a bad flag, a bad file, a bad message). Its message is one line that names
 * the input and what was expected; the CLI prints it and exits with `exitCode` instead of a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A bad configuration value (flag or environment variable): exit code 2. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'ConfigError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
