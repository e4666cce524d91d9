/**
 * `framesift run` as a user runs it (the compiled CLI in a child process): a complete session exits 0 with
 * the summary; an unreachable server, a missing or corrupt model exit non-zero with one line; Ctrl-C
 * stops the session cleanly and still writes the results.
 */
import { copyFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { runCli, userLines } from '../../helpers/cli.js';
import { removeDir, tempDir } from '../../helpers/temp.js';

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('framesift run (CLI)', () => {
  let server: StreamServer;
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('cli');
    server = await startStreamServer({ framesPort: 0, controlPort: 0, resultsDir: path.join(dir, 'server') });
  });
  afterAll(async () => {
    await server?.close();
    await removeDir(dir);
  });

  const ports = () => [
    '--frames-port',
    String(server.framesPort),
    '--control-port',
    String(server.controlPort),
  ];

  it('exits 0 after a complete session and prints the summary', async () => {
    const out = path.join(dir, 'ok');
    const exit = await runCli([
      'run',
      ...ports(),
      '--count',
      '500',
      '--fps',
      '0',
      '--metrics-port',
      '0',
      '--out',
      out,
    ]);
    expect(exit.stderr).not.toMatch(/framesift: /);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toMatch(/500/);
    const [session] = await readdir(out);
    const doc = JSON.parse(await readFile(path.join(out, session!, 'results.json'), 'utf8'));
    expect(doc.counts).toMatchObject({ sent: 500, received: 500, processed: 500, missing: 0 });
    const score = JSON.parse(await readFile(path.join(out, session!, 'score.json'), 'utf8'));
    expect(score.accuracy).toBeGreaterThan(0.8);
  });

  it('a bad --save-name or --change-options: exit 2 with one line, before connecting to the server', async () => {
    const listener = createServer();
    let connections = 0;
    listener.on('connection', (socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    try {
      const common = [
        'run',
        '--control-port',
        String(port),
        '--metrics-port',
        '0',
        '--out',
        path.join(dir, 'bad'),
      ];
      const name = await runCli([...common, '--mode', 'dedupe', '--save-name', '../orders']);
      expect(name.code).toBe(2);
      expect(userLines(name.stderr)).toEqual([
        expect.stringMatching(/^framesift: --save-name="\.\.\/orders": expected .*path separators/),
      ]);
      const change = await runCli([...common, '--mode', 'dedupe', '--method', 'change'], {
        env: { FRAMESIFT_CHANGE_OPTIONS: 'speed=3' },
      });
      expect(change.code).toBe(2);
      expect(userLines(change.stderr)).toEqual([
        expect.stringMatching(/^framesift: FRAMESIFT_CHANGE_OPTIONS="speed=3": expected .*resize, border/),
      ]);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it('an unreachable server: non-zero exit, one line naming the address', async () => {
    const port = await closedPort();
    const exit = await runCli([
      'run',
      '--control-port',
      String(port),
      '--metrics-port',
      '0',
      '--out',
      path.join(dir, 'x'),
    ]);
    expect(exit.code).not.toBe(0);
    const lines = userLines(exit.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`ws://127.0.0.1:${port}/`);
    expect(lines[0]).toMatch(/cannot reach the control server .*ECONNREFUSED/);
  });

  it('a model whose file is missing: non-zero exit, one line naming the file and its sha256', async () => {
    const empty = await mkdtemp(path.join(dir, 'models-'));
    const exit = await runCli([
      ...['run', ...ports()],
      '--classifier',
      'mobilenet-v2',
      '--models-dir',
      empty,
      '--metrics-port',
      '0',
    ]);
    expect(exit.code).not.toBe(0);
    const lines = userLines(exit.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /mobilenet_v2_1\.0_224-embed\.onnx of "mobilenet-v2" \(sha256 [0-9a-f]{64}.*not found in /,
    );
  });

  it('a corrupt model file: non-zero exit, one line naming both hashes', async () => {
    const models = await mkdtemp(path.join(dir, 'corrupt-'));
    // The project's classifier with one byte changed, found in --models-dir before models/.
    const file = path.join(models, 'fashion-mnist-cnn.onnx');
    await copyFile(path.join(PROJECT_ROOT, 'models', 'fashion-mnist-cnn.onnx'), file);
    const bytes = await readFile(file);
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0xff;
    await writeFile(file, bytes);
    const exit = await runCli([
      'run',
      ...ports(),
      '--classifier',
      'fashion-mnist-cnn',
      '--models-dir',
      models,
      '--metrics-port',
      '0',
    ]);
    expect(exit.code).not.toBe(0);
    const lines = userLines(exit.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
  });

  it('an unknown classifier: non-zero exit listing the known models', async () => {
    const exit = await runCli(['run', ...ports(), '--classifier', 'no-such-model', '--metrics-port', '0']);
    expect(exit.code).not.toBe(0);
    expect(userLines(exit.stderr)[0]).toMatch(/unknown model "no-such-model"/);
  });

  it('Ctrl-C stops the session, finishes what it received and writes the results', async () => {
    const out = path.join(dir, 'stopped');
    const exit = await runCli(
      ['run', ...ports(), '--count', '10000', '--fps', '200', '--metrics-port', '0', '--out', out],
      {},
      (kill) => {
        // Ctrl-C once the session streams (the server has sent 300 frames of it).
        const poll = setInterval(() => {
          const streaming = server.sessions().find((x) => x.count === 10000 && x.state === 'streaming');
          if (streaming && streaming.sent >= 300) {
            clearInterval(poll);
            kill();
          }
        }, 20);
      },
    );
    expect(exit.code).toBe(0);
    const [session] = await readdir(out);
    const doc = JSON.parse(await readFile(path.join(out, session!, 'results.json'), 'utf8'));
    const { sent, received, processed, dropped, invalid } = doc.counts;
    expect(sent).toBeGreaterThanOrEqual(300);
    expect(sent).toBeLessThan(10000);
    const settled =
      processed +
      Object.values<number>(dropped).reduce((a, b) => a + b, 0) +
      Object.values<number>(invalid).reduce((a, b) => a + b, 0);
    expect(settled).toBe(received);
    expect(received).toBeLessThanOrEqual(sent);
  });
});
