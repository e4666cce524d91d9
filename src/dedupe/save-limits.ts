/**
 * Limits on saves, so that whoever can reach the run's API cannot fill the disk: a rate (saves per
 * minute) and a total of bytes under `<out>/uniques/`. A refused save is a SaveRefused (a user error
 * with the HTTP status the API answers: 429 or 507).
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../common/errors.js';

export class SaveRefused extends UserError {
  constructor(
    readonly status: 429 | 507,
    readonly reason: 'save-rate' | 'save-bytes',
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'SaveRefused';
  }
}

/** Bytes of the regular files under `dir` (0 when it does not exist); symlinks are not followed. */
export async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  const walk = async (folder: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile())
        total += await lstat(full).then(
          (s) => s.size,
          () => 0,
        );
    }
  };
  await walk(dir);
  return total;
}

/** A sliding one-minute window of save times. */
export class SaveRate {
  private readonly times: number[] = [];
  constructor(private readonly perMinute: number) {}

  /** Records a save now, or throws SaveRefused (429) when the last minute already holds `perMinute`. */
  take(now = Date.now()): void {
    while (this.times.length > 0 && now - this.times[0]! >= 60_000) this.times.shift();
    if (this.times.length >= this.perMinute) {
      const retry = Math.max(1, Math.ceil((60_000 - (now - this.times[0]!)) / 1000));
      throw new SaveRefused(
        429,
        'save-rate',
        `save refused: at most ${this.perMinute} saves a minute (--save-rate); retry in ${retry} s`,
        retry,
      );
    }
    this.times.push(now);
  }
}
