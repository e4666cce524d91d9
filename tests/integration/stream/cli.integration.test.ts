/**
 * The real CLI: `node dist/cli.js serve` on ephemeral ports (read from its log), a session mid-stream, then
 * SIGTERM: sockets closed with 1001 and a clean exit. Needs `npm run build` (npm test runs it first).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { ControlClient, receiveFrames, tempDir } from './helpers.js';
import type { StreamServer } from '../../../src/stream/index.js';

describe('framesift serve (CLI)', () => {
  it('logs its listening ports, streams, and shuts down gracefully on SIGTERM', async () => {
    const resultsDir = await tempDir('framesift-cli-');
    const child = spawn(
      process.execPath,
      [
        path.join(PROJECT_ROOT, 'dist', 'cli.js'),
        'serve',
        '--frames-port',
        '0',
        '--control-port',
        '0',
        '--log-level',
        'info',
        '--results-dir',
        resultsDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logLines: Array<Record<string, unknown>> = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = new Promise<{ framesPort: number; controlPort: number }>((resolve, reject) => {
      let buffered = '';
      child.stderr.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            logLines.push(entry);
            if (entry.message === 'stream server listening') {
              resolve({ framesPort: entry.framesPort as number, controlPort: entry.controlPort as number });
            }
          } catch {
            // a non-JSON line (the one-line user error): kept out of the parsed log
          }
        }
      });
      void exited.then((code) => reject(new Error(`serve exited early (${code})`)));
    });
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
    child.kill('SIGTERM');
    const received = await done;
    expect(received.closeCode).toBe(1001);
    expect(received.frames.length).toBeGreaterThan(3);
    expect(received.frames.length).toBeLessThan(1000);
    await expect(control.next(() => false, 5000)).rejects.toThrow(/closed \(1001\)/);
    expect(await exited).toBe(0);
    expect(logLines.map((l) => l.message)).toEqual(
      expect.arrayContaining(['shutting down', 'stream server closed']),
    );
  });
});
