/**
 * `framesift app` applies the same server options as `serve`: the real CLI with --token and
 * --allowed-origins on ephemeral loopback ports. Its control port refuses a connection without the token
 * and a page from a foreign origin, and accepts the token and the allowed origin; its page refuses a
 * cross-origin state-changing request (the session keeps streaming) and accepts the allowed origin.
 * Before `app` and `serve` shared `streamServerOptions`, app ran without the token and the origins.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/common/config.js';
import { streamServerOptions } from '../../../src/commands/serve.js';
import { startCli, type RunningCli } from '../../helpers/cli.js';
import { removeDir, tempDir } from '../../helpers/temp.js';

const TOKEN = 'app-token-0123456789abcdef';
const ALLOWED = 'http://console.example:8080';
const PHOTOS = path.resolve('tests/fixtures/photos/imagehash');

let dir: string;
let app: RunningCli | undefined;
let ports: { framesPort: number; controlPort: number; page: string };

beforeAll(async () => {
  dir = await tempDir('app-access');
  const frames = path.join(dir, 'frames');
  await mkdir(frames);
  let n = 0;
  for (const sub of ['forest', 'office', 'orientation'])
    for (const file of (await readdir(path.join(PHOTOS, sub))).sort())
      await copyFile(path.join(PHOTOS, sub, file), path.join(frames, `${String(n++).padStart(3, '0')}.jpg`));
  // One image a second: the session is still streaming while the test knocks on the doors.
  app = startCli([
    'app',
    '--source',
    frames,
    '--token',
    TOKEN,
    '--allowed-origins',
    ALLOWED,
    '--frames-port',
    '0',
    '--control-port',
    '0',
    '--metrics-port',
    '0',
    '--images-per-second',
    '1',
    '--method',
    'phash',
    '--workers',
    '1',
    '--out',
    path.join(dir, 'out'),
    '--results-dir',
    path.join(dir, 'server'),
  ]);
  const server = await app.logLine((l) => l.message === 'stream server listening');
  const http = await app.logLine((l) => l.message === 'metrics and API listening');
  await app.logLine((l) => l.message === 'session started');
  ports = {
    framesPort: server.framesPort as number,
    controlPort: server.controlPort as number,
    page: new URL(http.url as string).origin,
  };
}, 60_000);

afterAll(async () => {
  if (app && app.child.exitCode === null) {
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  }
  await removeDir(dir);
});

/** Opens a WebSocket with `headers`; resolves 'open' or the HTTP status and JSON code of a refusal. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve('open');
    });
    socket.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    socket.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** A raw POST (node:http: every header as given, Origin and Sec-Fetch-Site included). */
function post(
  pathname: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${ports.page}${pathname}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (answer += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(answer) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

async function runState(): Promise<string> {
  const res = await fetch(`${ports.page}/api/state`);
  return ((await res.json()) as { run: { state: string } }).run.state;
}

describe('framesift app --token --allowed-origins', () => {
  it('its control port refuses a connection without the token, and a foreign origin even with it', async () => {
    const control = `ws://127.0.0.1:${ports.controlPort}/`;
    expect(await upgrade(control)).toBe(401);
    expect(await upgrade(control, { authorization: 'Bearer wrong-token-wrong-token' })).toBe(401);
    expect(await upgrade(control, { authorization: `Bearer ${TOKEN}` })).toBe('open');
    const frames = `ws://127.0.0.1:${ports.framesPort}/?session=none`;
    expect(await upgrade(frames)).toBe(401);
    // A page elsewhere cannot drive the server, token or not; the allowed origin can.
    expect(await upgrade(control, { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' })).toBe(
      403,
    );
    expect(await upgrade(`${control}?token=${TOKEN}`, { origin: ALLOWED })).toBe('open');
  });

  it('its page refuses a cross-origin stop and threshold; the session keeps streaming; the allowed origin passes', async () => {
    expect(await runState()).toBe('streaming');
    const stop = await post('/api/stop', { origin: 'http://evil.example' }, {});
    expect(stop.status).toBe(403);
    expect(stop.body.code).toBe('forbidden-origin');
    const crossSite = await post('/api/threshold', { 'sec-fetch-site': 'cross-site' }, { threshold: 3 });
    expect(crossSite.status).toBe(403);
    expect(await runState()).toBe('streaming');
    const allowed = await post('/api/threshold', { origin: ALLOWED }, { threshold: 3 });
    expect(allowed).toEqual({ status: 200, body: { threshold: 3 } });
  });
});

describe('streamServerOptions', () => {
  it('gives app every server option serve gets from the same flags', () => {
    const flags = {
      token: TOKEN,
      allowedOrigins: ALLOWED,
      maxPendingSessions: 3,
      maxPendingPerConnection: 2,
      maxSubmissions: 4,
      maxSubmitBytes: 5000,
      cameraMaxBytes: 6000,
      frameSize: '640x480',
      videoStallTimeout: 7,
      rtspListen: true,
      source: 'camera',
      imagesPerSecond: 3,
    };
    const serve = streamServerOptions(resolveConfig('serve', flags, {}));
    expect(streamServerOptions(resolveConfig('app', flags, {}))).toEqual(serve);
    expect(serve).toMatchObject({
      token: TOKEN,
      allowedOrigins: ALLOWED,
      maxPendingSessions: 3,
      maxSubmitBytes: 5000,
      video: { frameSize: { width: 640, height: 480 }, stallTimeoutSeconds: 7, rtspListen: true },
    });
  });
});
