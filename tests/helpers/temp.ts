/** Throwaway folders for tests, under the system's temp folder, named after what uses them. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A new empty folder `framesift-<name>-XXXXXX` in the temp folder. */
export function tempDir(name: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `framesift-${name}-`));
}

/** Removes a folder made by `tempDir` (nothing when it is already gone). */
export function removeDir(dir: string | undefined): Promise<void> {
  return dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve();
}
