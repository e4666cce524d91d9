import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The project root (the folder holding package.json), whether running from src/ or dist/. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The compiled JavaScript file `name` beside the calling module. Worker threads cannot load TypeScript,
 * so when the caller runs from src/ (under the test runner) this points into dist/, which `npm test`
 * builds first.
 */
export function compiledSibling(callerUrl: string, name: string): string {
  const callerFile = fileURLToPath(callerUrl);
  const dir = path.dirname(callerFile);
  const srcRoot = path.join(PROJECT_ROOT, 'src') + path.sep;
  const target = dir.startsWith(srcRoot)
    ? path.join(PROJECT_ROOT, 'dist', path.relative(srcRoot, dir), name)
    : path.join(dir, name);
  if (!existsSync(target)) {
    throw new Error(`compiled worker ${target} is missing: run "npm run build" first`);
  }
  return target;
}
