/**
 * The reference Python client (examples/python) against framesift's own server: it streams, verifies the
 * frames against the repository's copy of the test split, classifies, submits and checks the score. Needs
 * Debian's python3-websockets and python3-numpy (.ci/run installs them).
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import type { StreamServer } from '../../../src/stream/index.js';
import { startTestServer } from '../stream/helpers.js';

const PYTHON = '/usr/bin/python3';
const missing =
  spawnSync(PYTHON, ['-c', 'import websockets, numpy'], { stdio: 'ignore' }).status === 0
    ? undefined
    : `${PYTHON} lacks websockets or numpy: install python3-websockets and python3-numpy`;
if (missing && process.env.CI) throw new Error(missing);

describe.skipIf(missing !== undefined)(`examples/python/framesift_client.py ${missing ?? ''}`, () => {
  let server: StreamServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('streams 300 frames, verifies them, submits, and the server accuracy equals its own', async () => {
    const child = spawn(
      PYTHON,
      [
        path.join(PROJECT_ROOT, 'examples', 'python', 'framesift_client.py'),
        '--control',
        `ws://127.0.0.1:${server.controlPort}`,
        '--count',
        '300',
        '--fps',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toContain('300 frames equal');
    expect(out).toMatch(/server accuracy equals the local one/);
    expect(out).toMatch(/^7 of 7 checks passed$/m);
    expect(code, out).toBe(0);
    const finished = server.sessions().find((s) => s.state === 'ended');
    expect(finished).toMatchObject({ sent: 300, submissions: 1 });
  });
});
