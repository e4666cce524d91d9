/** The files every results folder holds, whatever the session (score.json comes only after scoring). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

export const RESULTS_FOLDER_FILES = [
  'results.json',
  'summary.md',
  'metrics.json',
  'samples.png',
  'charts/per-class.png',
  'charts/latency.png',
] as const;

export function expectResultsFolderFiles(folder: string, extra: readonly string[] = []): void {
  for (const file of [...RESULTS_FOLDER_FILES, ...extra]) {
    expect(existsSync(path.join(folder, file)), file).toBe(true);
  }
}
