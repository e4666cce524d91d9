/**
 * The stream server against other users and hostile pages: Origin, Host and token on both WebSocket
 * ports; sessions owned by the connection that started them (another connection's stop/submit/status);
 * pending-session caps; submission count, size, nesting and persistence; frame sockets for finished
 * sessions; bounded echoes. Real server on ephemeral loopback ports, real Fashion-MNIST frames.
 */
import { readFileSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamServer } from '../../../src/stream/index.js';
import type { StreamServerOptions } from '../../../src/stream/server.js';
import {
  ControlClient,
  FASHION_MNIST_DIR,
  receiveFrames,
  startTestServer,
  streamSession,
  tempDir,
} from '../stream/helpers.js';

const trueLabels = gunzipSync(
  readFileSync(path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')),
).subarray(8);
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

function resultsDocument(sessionId: string, n: number): Record<string, unknown> {
  const seqs = [...Array(n).keys()];
  return {
    format: 'framesift-results/1',
    framesiftVersion: '0.1.0',
    sessionId,
    mode: 'classify',
    source: { name: 'fashion-mnist-test', width: 28, height: 28, channels: 1 },
    model: { file: 'fashion-mnist-cnn.onnx', sha256: 'ab'.repeat(32) },
    counts: { sent: n, received: n, processed: n, dropped: {}, invalid: {}, missing: 0 },
    reconciliation: { reconciled: true, missingRanges: [] },
    predictions: { seq: seqs, label: seqs.map((s) => trueLabels[s]!), confidence: seqs.map(() => 0.9) },
    samples: [0].map((seq) => ({ seq, label: trueLabels[seq]!, confidence: 0.9, png: TINY_PNG })),
    summary: { predicted: n, perClass: [] },
    timings: {},
  };
}

let servers: StreamServer[] = [];
let clients: ControlClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  servers = [];
  clients = [];
});

async function server(options: StreamServerOptions = {}): Promise<StreamServer> {
  const s = await startTestServer(options);
  servers.push(s);
  return s;
}
async function client(s: StreamServer): Promise<ControlClient> {
  const c = await ControlClient.connect(s);
  clients.push(c);
  return c;
}

/** Opens a WebSocket with `headers`; resolves 'open' or the HTTP status and JSON body of a refusal. */
function upgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number | 'open'; body?: { code?: string; error?: string } }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve({ status: 'open' });
    });
    socket.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } }),
      );
    });
    socket.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('who may open the WebSockets', () => {
  it('refuses a foreign Origin on both ports (403 forbidden-origin); no Origin and an allowed one pass', async () => {
    const s = await server({ allowedOrigins: 'http://app.example:8080' });
    for (const port of [s.controlPort, s.framesPort]) {
      const url = `ws://127.0.0.1:${port}/`;
      const foreign = await upgrade(url, { origin: 'http://evil.example' });
      expect(foreign).toMatchObject({ status: 403, body: { code: 'forbidden-origin' } });
      expect(await upgrade(url, { origin: `http://127.0.0.1:${port}` })).toMatchObject({ status: 403 });
      expect((await upgrade(url, { origin: 'http://app.example:8080' })).status).not.toBe(403);
    }
    expect((await upgrade(`ws://127.0.0.1:${s.controlPort}/`)).status).toBe('open');
  });

  it('refuses a foreign Host (DNS rebinding) with 403 forbidden-host', async () => {
    const s = await server();
    const refused = await upgrade(`ws://127.0.0.1:${s.controlPort}/`, {
      host: `rebind.evil.example:${s.controlPort}`,
    });
    expect(refused).toMatchObject({ status: 403, body: { code: 'forbidden-host' } });
    expect(
      (await upgrade(`ws://127.0.0.1:${s.controlPort}/`, { host: `localhost:${s.controlPort}` })).status,
    ).toBe('open');
  });

  it('with --token, both ports ask for it: none or a wrong one is 401; the header or ?token= passes', async () => {
    const token = 'correct-horse-battery-staple';
    const s = await server({ token });
    const control = `ws://127.0.0.1:${s.controlPort}/`;
    expect(await upgrade(control)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await upgrade(control, { authorization: 'Bearer wrong-token-wrong-token' })).toMatchObject({
      status: 401,
    });
    expect((await upgrade(control, { authorization: `Bearer ${token}` })).status).toBe('open');
    expect((await upgrade(`${control}?token=${token}`)).status).toBe('open');
    const frames = `ws://127.0.0.1:${s.framesPort}/?session=x`;
    expect(await upgrade(frames)).toMatchObject({ status: 401 });
    // With the token the frame port answers the protocol (an unknown session), not 401.
    expect((await upgrade(`${frames}&token=${token}`)).status).toBe('open');
  });
});

describe('a session belongs to the connection that started it', () => {
  it('another connection cannot see, stop or submit for it; the owner still gets its end and score', async () => {
    const s = await server();
    const owner = await client(s);
    const other = await client(s);
    const session = await owner.request({ type: 'start', count: 50, fps: 200 }, 'session');
    const id = session.sessionId as string;
    expect(session.secret).toMatch(/^[0-9a-f]{64}$/);
    const { done } = receiveFrames(session.framesUrl as string);

    const status = await other.request({ type: 'status' }, 'status');
    expect((status.sessions as { sessionId: string }[]).map((x) => x.sessionId)).not.toContain(id);
    expect(await other.request({ type: 'stop', sessionId: id }, 'stopped')).toMatchObject({
      type: 'error',
      code: 'not-owner',
    });
    expect(
      await other.request({ type: 'stop', sessionId: id, secret: 'f'.repeat(64) }, 'stopped'),
    ).toMatchObject({
      code: 'not-owner',
    });
    const own = await owner.request({ type: 'status' }, 'status');
    expect((own.sessions as { sessionId: string }[]).map((x) => x.sessionId)).toEqual([id]);

    const received = await done;
    expect(received.frames).toHaveLength(50);
    expect(await owner.nextOfType('end')).toMatchObject({ sessionId: id, sent: 50 });
    expect(
      await other.request({ type: 'submit', sessionId: id, results: resultsDocument(id, 50) }, 'scored'),
    ).toMatchObject({ type: 'error', code: 'not-owner' });
    expect(
      await owner.request({ type: 'submit', sessionId: id, results: resultsDocument(id, 50) }, 'scored'),
    ).toMatchObject({ type: 'scored', accuracy: 1 });
  });

  it('a reconnecting owner with the secret takes the session over', async () => {
    const s = await server();
    const first = await client(s);
    const session = await first.request({ type: 'start', count: 5, fps: 0 }, 'session');
    first.close();
    const again = await client(s);
    const stopped = await again.request(
      { type: 'stop', sessionId: session.sessionId, secret: session.secret },
      'stopped',
    );
    expect(stopped).toMatchObject({ type: 'stopped', sessionId: session.sessionId });
    const status = await again.request({ type: 'status' }, 'status');
    expect(status.sessions).toEqual([
      expect.objectContaining({ sessionId: session.sessionId, state: 'stopped' }),
    ]);
  });
});

describe('limits', () => {
  it('caps sessions waiting for their frame socket, per connection and in total (too-many-sessions)', async () => {
    const s = await server({ maxPendingPerConnection: 3, maxPendingSessions: 4 });
    const a = await client(s);
    const b = await client(s);
    const started: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await a.request({ type: 'start', count: 1 }, 'session');
      expect(session.type).toBe('session');
      started.push(session.sessionId as string);
    }
    expect(await a.request({ type: 'start', count: 1 }, 'session')).toMatchObject({
      code: 'too-many-sessions',
    });
    const onB = await b.request({ type: 'start', count: 2, fps: 0 }, 'session');
    expect(onB.type).toBe('session');
    // 4 waiting in total: b is refused too, although it has only one.
    expect(await b.request({ type: 'start', count: 1 }, 'session')).toMatchObject({
      code: 'too-many-sessions',
    });
    // A session whose frame socket connects leaves the waiting count: b may start again.
    expect((await receiveFrames(onB.framesUrl as string).done).frames).toHaveLength(2);
    await b.nextOfType('end');
    expect((await b.request({ type: 'start', count: 1 }, 'session')).type).toBe('session');
    // So does a stopped one.
    expect((await a.request({ type: 'stop', sessionId: started[0] }, 'stopped')).type).toBe('stopped');
    expect((await a.request({ type: 'start', count: 1 }, 'session')).type).toBe('session');
  });

  it('bounds submissions: count per session, size, nesting; scored only when persisted, persisted compactly', async () => {
    const resultsDir = await tempDir('framesift-sec-results-');
    const s = await server({ resultsDir, maxSubmissions: 2, maxSubmitBytes: 256 * 1024 });
    const c = await client(s);
    const session = await c.request({ type: 'start', count: 20, fps: 0 }, 'session');
    const id = session.sessionId as string;
    await receiveFrames(session.framesUrl as string).done;
    await c.nextOfType('end');
    const doc = resultsDocument(id, 20);
    expect((await c.request({ type: 'submit', sessionId: id, results: doc }, 'scored')).type).toBe('scored');
    const persisted = await readFile(path.join(resultsDir, id, 'submission-1.json'), 'utf8');
    expect(persisted).not.toContain('\n ');
    expect(JSON.parse(persisted)).toEqual(doc);
    // 20,000 deep: refused as invalid-results (it used to be "scored" and then fail to persist).
    const deep = `{"type":"submit","sessionId":"${id}","results":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
    c.send(deep);
    expect(await c.next((m) => m.type === 'error' || m.type === 'scored')).toMatchObject({
      code: 'invalid-results',
    });
    // Over --max-submit-bytes: too-large, and the connection stays open.
    const big = { ...doc, padding: 'x'.repeat(300 * 1024) };
    expect(await c.request({ type: 'submit', sessionId: id, results: big }, 'scored')).toMatchObject({
      code: 'too-large',
    });
    expect((await c.request({ type: 'submit', sessionId: id, results: doc }, 'scored')).type).toBe('scored');
    expect(await c.request({ type: 'submit', sessionId: id, results: doc }, 'scored')).toMatchObject({
      code: 'too-many-submissions',
    });
    expect((await readdir(path.join(resultsDir, id))).sort()).toEqual([
      'score-1.json',
      'score-2.json',
      'submission-1.json',
      'submission-2.json',
    ]);
  });

  it('a submission that cannot be persisted is an internal error, never scored', async () => {
    const dir = await tempDir('framesift-sec-unwritable-');
    const resultsDir = path.join(dir, 'a-file');
    await writeFile(resultsDir, 'not a folder');
    const s = await server({ resultsDir });
    const c = await client(s);
    const session = await c.request({ type: 'start', count: 5, fps: 0 }, 'session');
    await receiveFrames(session.framesUrl as string).done;
    await c.nextOfType('end');
    const answer = await c.request(
      {
        type: 'submit',
        sessionId: session.sessionId,
        results: resultsDocument(session.sessionId as string, 5),
      },
      'scored',
    );
    expect(answer).toMatchObject({ type: 'error', code: 'internal' });
    expect(answer.message).not.toContain(dir);
  });
});

describe('frame sockets and echoes', () => {
  it('a frame socket for an ended session is unknown-session (not duplicate-frame-socket)', async () => {
    const s = await server();
    const { session } = await streamSession(s, { count: 3, fps: 0 });
    const late = await receiveFrames(session.framesUrl as string).done;
    expect(late.closeCode).toBe(1008);
    expect(JSON.parse(late.texts[0]!)).toMatchObject({ code: 'unknown-session' });
  });

  it('a 10,000-character session id is not echoed in full on either port', async () => {
    const s = await server();
    const c = await client(s);
    const id = 's'.repeat(10_000);
    const stop = await c.request({ type: 'stop', sessionId: id }, 'stopped');
    expect(stop.type).toBe('error');
    expect(JSON.stringify(stop).length).toBeLessThan(600);
    const frames = await receiveFrames(`ws://127.0.0.1:${s.framesPort}/?session=${id}`).done;
    expect(frames.texts[0]!.length).toBeLessThan(600);
  });
});
