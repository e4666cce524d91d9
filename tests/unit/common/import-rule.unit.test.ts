/**
 * The one-way import rule (docs/design.md) is enforced by `npm run lint`: the project's own ESLint
 * configuration, run on files that break it, reports each break — and passes the allowed imports.
 */
import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

const eslint = new ESLint({ cwd: PROJECT_ROOT });

/** The no-restricted-imports messages for `code` as if it were the file `file` of the project. */
async function importErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(PROJECT_ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the import rule, as lint enforces it', () => {
  it('fails a stage that imports another stage or a command', async () => {
    expect(
      await importErrors(
        'src/results/violation.ts',
        "export { startStreamServer } from '../stream/index.js';\n",
      ),
    ).toEqual([expect.stringContaining('a stage never imports another stage')]);
    expect(
      await importErrors(
        'src/stream/server/violation.ts',
        "export { runPipeline } from '../../commands/run.js';\n",
      ),
    ).toEqual([expect.stringContaining('a stage never imports a command')]);
  });

  it('fails common importing a stage, and a command reaching past a stage’s index.ts', async () => {
    expect(
      await importErrors(
        'src/common/violation.ts',
        "export { SessionRecorder } from '../results/index.js';\n",
      ),
    ).toEqual([expect.stringContaining('common imports no stage')]);
    expect(
      await importErrors('src/commands/violation.ts', "export { loadModel } from '../analysis/models.js';\n"),
    ).toEqual([expect.stringContaining('through its index.ts only')]);
  });

  it('lets the workers use only dedupe/features.js, and never hnswlib or node:http', async () => {
    expect(
      await importErrors(
        'src/analysis/tasks/ok.ts',
        "export { perceptualHash } from '../../dedupe/features.js';\n",
      ),
    ).toEqual([]);
    expect(
      await importErrors(
        'src/analysis/tasks/violation.ts',
        "export { StreamDeduper } from '../../dedupe/index.js';\n",
      ),
    ).toEqual([expect.stringContaining('dedupe/features.js')]);
    expect(
      await importErrors('src/analysis/violation.ts', "import http from 'node:http';\nexport { http };\n"),
    ).toEqual([expect.stringContaining('must not load hnswlib or node:http')]);
  });

  it('passes the imports the design allows', async () => {
    expect(
      await importErrors(
        'src/commands/ok.ts',
        "export { SessionLedger } from '../common/session/index.js';\nexport { runPipeline } from './run.js';\nexport { createIngest } from '../processing/index.js';\n",
      ),
    ).toEqual([]);
  });
});
