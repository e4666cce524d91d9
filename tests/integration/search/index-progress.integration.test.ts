/**
 * `framesift index` on a terminal draws a progress bar with its rate and ETA; in a pipe or CI it draws
 * nothing. The terminal is a real pseudo-terminal from util-linux's `script` (part of every Debian).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { CLI, runCli } from '../../helpers/cli.js';

const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const SCRIPT = '/usr/bin/script';
const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-index-progress-'));

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Everything the command wrote to its terminal (stdout and stderr both go to the pseudo-terminal). */
function onTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete env.CI; // a developer's terminal, not a CI job
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('index progress', () => {
  it.skipIf(!existsSync(SCRIPT))(
    'shows files done, images/s and the time left on a terminal; nothing in a pipe',
    async () => {
      const onTty = await onTerminal(['index', CALTECH, '--db', path.join(tmp, 'tty.db'), '--workers', '1']);
      expect(onTty.code, onTty.output).toBe(0);
      const bars = [
        ...onTty.output.matchAll(/index \[[^\]]*\] (\d+)\/(\d+) files \| (\d+) images\/s \| (\S+) left/g),
      ];
      expect(bars.length, onTty.output).toBeGreaterThan(0);
      const last = bars.at(-1)!;
      expect(Number(last[1])).toBe(82);
      expect(Number(last[2])).toBe(82);
      expect(Number(last[3])).toBeGreaterThan(0);

      const piped = await runCli(['index', CALTECH, '--db', path.join(tmp, 'pipe.db'), '--workers', '1']);
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stderr + piped.stdout).not.toMatch(/images\/s \|/);
    },
    180_000,
  );
});
