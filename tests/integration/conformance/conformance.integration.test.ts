/**
 * The conformance kit against framesift's own server (every check passes; the CLI exits 0),
 * and against a deliberately broken server (a tiny ws server written here that answers wrongly): the
 * checks that should fail do, with what they saw, and the CLI exits 1.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { encodeFrame } from '../../../src/common/wire/header.js';
import { runConformance, type ConformanceReport } from '../../../src/conformance/index.js';
import { loadFashionMnist, PROJECT_FASHION_MNIST_DIR } from '../../../src/stream/fashion-mnist.js';
import type { StreamServer } from '../../../src/stream/index.js';
import { startTestServer } from '../stream/helpers.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'cli.js');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'conformance', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('framesift conformance against framesift serve', () => {
  let server: StreamServer;
  beforeAll(async () => {
    server = await startTestServer({ sessionTimeoutMs: 1000, maxPayloadBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('passes every check (the reference is the repository copy of the test split)', async () => {
    const set = await loadFashionMnist('test', PROJECT_FASHION_MNIST_DIR);
    const report = await runConformance({
      control: `ws://127.0.0.1:${server.controlPort}`,
      reference: { name: 'fashion-mnist-test', ...set },
      sessionTimeoutMs: 1000,
      maxPayloadBytes: 1024 * 1024,
    });
    expect(report.results.filter((r) => r.outcome === 'fail')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.id, r.outcome])).toEqual([
      ['status', 'pass'],
      ['frames-exact', 'pass'],
      ['start-without-count', 'pass'],
      ['pacing', 'pass'],
      ['stop', 'pass'],
      ['errors-control', 'pass'],
      ['errors-frame-socket', 'pass'],
      ['scoring', 'pass'],
      ['too-large', 'pass'],
      ['session-expired', 'pass'],
      ['internal', 'skip'],
      ['schema', 'pass'],
    ]);
  });

  it('runs from the CLI: --json report, exit 0', async () => {
    const { code, stdout, stderr } = await runCli([
      '--control',
      `ws://127.0.0.1:${server.controlPort}`,
      '--checks',
      'status,frames-exact,schema',
      '--fashion-mnist-dir',
      PROJECT_FASHION_MNIST_DIR,
      '--json',
    ]);
    const report = JSON.parse(stdout) as ConformanceReport;
    expect(
      report.results.map((r) => [r.id, r.outcome]),
      stderr,
    ).toEqual([
      ['status', 'pass'],
      ['frames-exact', 'pass'],
      ['schema', 'pass'],
    ]);
    expect(code).toBe(0);
  });

  it('refuses an unknown check id with exit 2 and one line', async () => {
    const { code, stderr } = await runCli([
      '--control',
      `ws://127.0.0.1:${server.controlPort}`,
      '--checks',
      'nope',
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^framesift: --checks: unknown check nope: expected some of status, frames-exact/);
  });
});

/**
 * A server that looks right at a glance: it answers `status` without a protocol version, streams the
 * right number of frames with one pixel of frame 7 changed, and answers every bad request `bad-message`.
 */
async function startBrokenServer(): Promise<{ control: string; close: () => Promise<void> }> {
  const set = await loadFashionMnist('test', PROJECT_FASHION_MNIST_DIR);
  const size = set.width * set.height;
  const framesHttp = http.createServer();
  const controlHttp = http.createServer();
  const framesWss = new WebSocketServer({ server: framesHttp });
  const controlWss = new WebSocketServer({ server: controlHttp });
  await Promise.all([
    new Promise<void>((resolve) => framesHttp.listen(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => controlHttp.listen(0, '127.0.0.1', resolve)),
  ]);
  const framesPort = (framesHttp.address() as AddressInfo).port;
  const counts = new Map<string, number>();
  const controls = new Map<string, WebSocket>();
  let next = 0;
  controlWss.on('connection', (socket) => {
    socket.on('message', (data) => {
      let message: { type?: string; count?: number };
      try {
        message = JSON.parse(data.toString()) as typeof message;
      } catch {
        message = {};
      }
      if (message.type === 'status') {
        socket.send(JSON.stringify({ type: 'status', sessions: [], sources: ['fashion-mnist-test'] }));
      } else if (message.type === 'start') {
        const id = `s${next++}`;
        counts.set(id, message.count ?? set.count);
        controls.set(id, socket);
        socket.send(
          JSON.stringify({
            type: 'session',
            sessionId: id,
            count: message.count,
            fps: 0,
            width: 28,
            height: 28,
            channels: 1,
            framesUrl: `ws://127.0.0.1:${framesPort}/?session=${id}`,
            source: 'fashion-mnist-test',
            protocolVersion: 1,
          }),
        );
      } else {
        socket.send(JSON.stringify({ type: 'error', code: 'bad-message', message: 'no' }));
      }
    });
  });
  framesWss.on('connection', (socket, request) => {
    const id = new URL(request.url ?? '/', 'ws://x').searchParams.get('session') ?? '';
    const count = counts.get(id) ?? 0;
    for (let seq = 0; seq < count; seq++) {
      const payload = Buffer.from(set.images.subarray(seq * size, (seq + 1) * size));
      if (seq === 7) payload[100] = (payload[100]! + 1) % 256;
      socket.send(
        encodeFrame({ seq, width: 28, height: 28, channels: 1, encoding: 0, sentAt: Date.now() }, payload),
      );
    }
    socket.close(1000);
    controls.get(id)?.send(JSON.stringify({ type: 'end', sessionId: id, sent: count }));
  });
  return {
    control: `ws://127.0.0.1:${(controlHttp.address() as AddressInfo).port}`,
    close: async () => {
      for (const wss of [controlWss, framesWss]) for (const client of wss.clients) client.terminate();
      await Promise.all(
        [framesHttp, controlHttp].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}

describe('framesift conformance against a broken server', () => {
  let broken: Awaited<ReturnType<typeof startBrokenServer>>;
  beforeAll(async () => {
    broken = await startBrokenServer();
  });
  afterAll(async () => {
    await broken.close();
  });

  it('fails the checks the server gets wrong, saying what it saw', async () => {
    const set = await loadFashionMnist('test', PROJECT_FASHION_MNIST_DIR);
    const report = await runConformance({
      control: broken.control,
      reference: { name: 'fashion-mnist-test', ...set },
      sessionTimeoutMs: 1000,
      maxPayloadBytes: 1024,
      only: ['status', 'frames-exact', 'errors-control', 'schema'],
    });
    const byId = Object.fromEntries(report.results.map((r) => [r.id, r]));
    expect(byId.status).toMatchObject({
      outcome: 'fail',
      detail: 'status.protocolVersion undefined, expected 1',
    });
    expect(byId['frames-exact']).toMatchObject({
      outcome: 'fail',
      detail: 'frame 7: pixels differ from image 7',
    });
    expect(byId['errors-control']).toMatchObject({
      outcome: 'fail',
      detail: expect.stringMatching(/^expected error bad-json, got .*"code":"bad-message"/) as unknown,
    });
    expect(report.ok).toBe(false);
    expect(report.failed).toBe(3);
  });

  it('exits 1 from the CLI', async () => {
    const { code, stdout } = await runCli(['--control', broken.control, '--checks', 'status']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL {2}status/m);
    expect(stdout).toMatch(/0 passed, 1 failed, 0 skipped/);
  });
});
