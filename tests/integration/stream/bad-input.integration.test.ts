/**
 * Bad input never crashes the server: each case gets an error with a stable code and a message naming
 * what was wrong, is counted in framesift_server_errors_total{code}, and the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { metricsRegistry } from '../../../src/common/metrics.js';
import type { StreamServer } from '../../../src/stream/index.js';
import { ControlClient, receiveFrames, startTestServer, streamSession } from './helpers.js';

let server: StreamServer;
let control: ControlClient;

async function errorCount(code: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('framesift_server_errors_total')!.get();
  return metric.values.find((v) => v.labels.code === code)?.value ?? 0;
}

beforeAll(async () => {
  server = await startTestServer({ maxPayloadBytes: 4096 });
  control = await ControlClient.connect(server);
});
afterAll(async () => {
  control.close();
  await server.close();
});

describe('bad input on the control port', () => {
  const cases: Array<[string, string | Buffer | object, string, RegExp]> = [
    ['non-JSON', '{"type": "start", ', 'bad-json', /not JSON/],
    ['a JSON array', '[1,2,3]', 'bad-message', /JSON object with a string "type"/],
    ['a message without type', { count: 3 }, 'bad-message', /no string "type"/],
    [
      'an unknown type',
      { type: 'launch' },
      'unknown-type',
      /unknown message type "launch": expected start, stop, status, submit/,
    ],
    [
      'an ill-typed count',
      { type: 'start', count: 'ten' },
      'bad-message',
      /start: count: Expected number, received string/,
    ],
    ['a negative fps', { type: 'start', count: 3, fps: -1 }, 'bad-message', /start: fps/],
    ['stop without sessionId', { type: 'stop' }, 'bad-message', /stop: sessionId: Required/],
    [
      'stop of an unknown session',
      { type: 'stop', sessionId: 'nope' },
      'unknown-session',
      /stop: no session "nope"/,
    ],
    [
      'submit for an unknown session',
      { type: 'submit', sessionId: 'nope', results: {} },
      'unknown-session',
      /submit: no session "nope"/,
    ],
    [
      'submit without results',
      { type: 'submit', sessionId: 'x' },
      'bad-message',
      /submit: results: Required/,
    ],
    [
      'an unknown source',
      { type: 'start', count: 3, source: '/etc' },
      'unknown-source',
      /source "\/etc" is not offered: expected one of fashion-mnist-test, fashion-mnist-train/,
    ],
    [
      'a count beyond the source',
      { type: 'start', count: 10_001 },
      'bad-message',
      /count 10001: source "fashion-mnist-test" has only 10000 frames/,
    ],
    [
      'binary on the control port',
      Buffer.from([0x46, 0x53, 0x46, 0x31]),
      'binary-on-control',
      /binary message on the control port: expected JSON text/,
    ],
  ];

  for (const [what, message, code, text] of cases) {
    it(`answers ${what} with error ${code}`, async () => {
      const before = await errorCount(code);
      if (Buffer.isBuffer(message)) control.socket.send(message, { binary: true });
      else control.send(message);
      const reply = await control.nextOfType('error');
      expect(reply.code).toBe(code);
      expect(reply.message).toMatch(text);
      expect(await errorCount(code)).toBe(before + 1);
    });
  }

  it('closes a connection whose message exceeds maxPayload with 1009, counts it, and keeps serving', async () => {
    const before = await errorCount('too-large');
    const big = await ControlClient.connect(server);
    big.send(JSON.stringify({ type: 'status', padding: 'x'.repeat(8192) }));
    await expect(big.next(() => true, 5000)).rejects.toThrow(/closed \(1009\)/);
    expect(await errorCount('too-large')).toBe(before + 1);
    const status = await control.request({ type: 'status' }, 'status');
    expect(status.type).toBe('status');
  });
});

describe('bad input on the frame port', () => {
  it('refuses a frame socket for an unknown session with an error and 1008', async () => {
    const before = await errorCount('unknown-session');
    const received = await receiveFrames(`ws://127.0.0.1:${server.framesPort}/?session=missing`).done;
    expect(received.closeCode).toBe(1008);
    expect(JSON.parse(received.texts[0]!)).toMatchObject({ type: 'error', code: 'unknown-session' });
    const noQuery = await receiveFrames(`ws://127.0.0.1:${server.framesPort}/`).done;
    expect(noQuery.closeCode).toBe(1008);
    expect(await errorCount('unknown-session')).toBe(before + 2);
  });

  it('refuses a second frame socket for the same session; the first one still gets every frame', async () => {
    const session = await control.request({ type: 'start', count: 100, fps: 200 }, 'session');
    const first = receiveFrames(session.framesUrl as string);
    await new Promise<void>((resolve) => first.socket.once('open', () => resolve()));
    const second = await receiveFrames(session.framesUrl as string).done;
    expect(second.closeCode).toBe(1008);
    expect(JSON.parse(second.texts[0]!)).toMatchObject({
      code: 'duplicate-frame-socket',
      sessionId: session.sessionId,
    });
    const received = await first.done;
    expect(received.frames).toHaveLength(100);
    expect(await control.nextOfType('end')).toMatchObject({ sent: 100 });
  });

  it('refuses a frame socket for a finished session with unknown-session, the code as close reason', async () => {
    const { session } = await streamSession(server, { count: 3, fps: 0 });
    const late = new WebSocket(session.framesUrl as string);
    const texts: string[] = [];
    late.on('message', (data) => texts.push(data.toString()));
    const [code, reason] = await new Promise<[number, string]>((resolve) =>
      late.once('close', (c, r) => resolve([c, r.toString()])),
    );
    expect([code, reason]).toEqual([1008, 'unknown-session']);
    expect(JSON.parse(texts[0]!)).toMatchObject({
      type: 'error',
      code: 'unknown-session',
      sessionId: session.sessionId,
    });
  });

  it('answers text sent on the frame socket with text-on-frames and keeps streaming', async () => {
    const session = await control.request({ type: 'start', count: 40, fps: 100 }, 'session');
    const { socket, done } = receiveFrames(session.framesUrl as string);
    socket.once('open', () => socket.send('hello'));
    const received = await done;
    expect(received.texts.map((t) => JSON.parse(t) as { code: string })).toEqual([
      expect.objectContaining({ code: 'text-on-frames' }),
    ]);
    expect(received.frames).toHaveLength(40);
    expect(received.closeCode).toBe(1000);
    await control.nextOfType('end');
  });

  it('reports a receiver that leaves mid-stream with end reason frame-socket-closed', async () => {
    const session = await control.request({ type: 'start', count: 1000, fps: 100 }, 'session');
    const { socket } = receiveFrames(session.framesUrl as string, (_f, s, index) => {
      if (index === 9) s.close();
    });
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const end = await control.nextOfType('end');
    expect(end).toMatchObject({ sessionId: session.sessionId, reason: 'frame-socket-closed' });
    expect(end.sent as number).toBeGreaterThanOrEqual(10);
    expect(server.sessions().find((s) => s.sessionId === session.sessionId)?.state).toBe('failed');
  });

  it('serves the counts on GET /metrics of the control port', async () => {
    const response = await fetch(`http://127.0.0.1:${server.controlPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/framesift_server_errors_total\{code="bad-json"\} [1-9]/);
    expect(text).toMatch(/framesift_server_frames_sent_total [1-9]/);
    expect(text).toMatch(/framesift_server_sessions\{state="failed"\} [1-9]/);
    expect((await fetch(`http://127.0.0.1:${server.controlPort}/`)).status).toBe(426);
  });

  it('still streams normally after all of the above', async () => {
    const { end, received } = await streamSession(server, { count: 20, fps: 0 });
    expect(end.sent).toBe(20);
    expect(received.frames).toHaveLength(20);
  });
});
