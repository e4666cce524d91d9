/**
 * The real CLI: `node dist/cli.js serve` on ephemeral ports (read from its log), a session mid-stream, then
 * SIGTERM: sockets closed with 1001 and a clean exit. Needs `npm run build` (npm test runs it first).
 */
import { describe, expect, it } from 'vitest';
import { startCli } from '../../helpers/cli.js';
import { ControlClient, receiveFrames, tempDir } from './helpers.js';
import type { StreamServer } from '../../../src/stream/index.js';

describe('framesift serve (CLI)', () => {
  it('logs its listening ports, streams, and shuts down gracefully on SIGTERM', async () => {
    const resultsDir = await tempDir('framesift-cli-');
    const serve = startCli([
      'serve',
      '--frames-port',
      '0',
      '--control-port',
      '0',
      '--log-level',
      'info',
      '--results-dir',
      resultsDir,
    ]);
    const listening = serve
      .logLine((line) => line.message === 'stream server listening')
      .then((line) => ({ framesPort: line.framesPort as number, controlPort: line.controlPort as number }));
    const ports = await listening;
    expect(ports.framesPort).toBeGreaterThan(0);
    expect(ports.controlPort).toBeGreaterThan(0);

    const control = await ControlClient.connect({ controlPort: ports.controlPort } as StreamServer);
    const session = await control.request({ type: 'start', count: 1000, fps: 50 }, 'session');
    expect(session.framesUrl).toBe(
      `ws://127.0.0.1:${ports.framesPort}/?session=${session.sessionId as string}`,
    );
    let fourth!: () => void;
    const streaming = new Promise<void>((resolve) => (fourth = resolve));
    const { done } = receiveFrames(session.framesUrl as string, (_frame, _socket, index) => {
      if (index === 3) fourth();
    });
    await streaming;
    serve.child.kill('SIGTERM');
    const received = await done;
    expect(received.closeCode).toBe(1001);
    expect(received.frames.length).toBeGreaterThan(3);
    expect(received.frames.length).toBeLessThan(1000);
    await expect(control.next(() => false, 5000)).rejects.toThrow(/closed \(1001\)/);
    expect(await serve.exited).toBe(0);
    expect(serve.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining(['shutting down', 'stream server closed']),
    );
  });
});
