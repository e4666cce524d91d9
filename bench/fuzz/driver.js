// Drives the fuzz target: hostile messages on the control port, frame-socket abuse, hostile HTTP requests.
// Checks, per answer, what must always hold (a JSON reply of a known type; an error with a stable code and
// a bounded message; no 5xx; no server path in an HTTP answer) and that the target stays up and answers.
import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { controlMessage, frameAttempt, httpRequest, prng } from './corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { CONTROL_ERROR_CODES } = await import(
  path.join(here, '..', '..', 'dist', 'common', 'wire', 'control.js')
);
const KNOWN_TYPES = new Set(['session', 'end', 'stopped', 'status', 'scored', 'error']);
/** Longest error message or echoed id accepted: every echoed string must be bounded. */
const MAX_ECHO = 1000;

/** Starts the target process; resolves with its ports, an RSS probe, a crash flag and stop(). */
export async function startTarget(options) {
  const child = fork(path.join(here, 'target.js'), [JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const state = { exited: false, code: null, signal: null };
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      Object.assign(state, { exited: true, code, signal });
      resolve();
    }),
  );
  const ports = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (d) => {
      buffered += d.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n')) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`fuzz target exited with ${code}: ${stderr}`)));
  });
  return {
    ...ports,
    state,
    stderr: () => stderr,
    rss: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m.rss));
        child.send('rss');
      }),
    async stop() {
      if (!state.exited) child.kill('SIGTERM');
      await exited;
    },
  };
}

function collect(stats, key, by) {
  stats[key][by] = (stats[key][by] ?? 0) + 1;
}

/** One control connection that sends `count` messages and checks every reply. */
async function controlRun(target, r, count, shared, stats) {
  const headers = shared.token ? { authorization: `Bearer ${shared.token}` } : {};
  let socket;
  let waitingStatus;
  const own = [];
  const open = () =>
    new Promise((resolve, reject) => {
      socket = new WebSocket(`ws://127.0.0.1:${target.controlPort}/`, {
        headers,
        maxPayload: 64 * 1024 * 1024,
      });
      socket.on('message', (data, isBinary) => {
        stats.replies++;
        let m;
        try {
          m = JSON.parse(data.toString());
        } catch {
          stats.violations.push(`control reply is not JSON: ${data.toString().slice(0, 80)}`);
          return;
        }
        if (isBinary || !KNOWN_TYPES.has(m.type))
          stats.violations.push(`unknown reply type ${String(m.type).slice(0, 40)}`);
        if (m.type === 'error') {
          collect(stats, 'controlErrors', m.code);
          if (!CONTROL_ERROR_CODES.includes(m.code)) stats.violations.push(`unknown error code ${m.code}`);
          if (typeof m.message !== 'string' || m.message.length > MAX_ECHO)
            stats.violations.push(`error message of ${String(m.message).length} chars (${m.code})`);
        } else collect(stats, 'controlReplies', m.type);
        if (typeof m.sessionId === 'string' && m.sessionId.length > 200)
          stats.violations.push(`echoed sessionId of ${m.sessionId.length} chars`);
        if (m.type === 'session') {
          own.push(m.sessionId);
          shared.all.push({ id: m.sessionId, owner: own, secret: m.secret });
          if (shared.all.length > 200) shared.all.shift();
        }
        if (m.type === 'status' && waitingStatus) {
          waitingStatus();
          waitingStatus = undefined;
        }
      });
      socket.once('open', resolve);
      socket.once('error', reject);
      socket.on('close', (code) => collect(stats, 'controlCloses', code));
    });
  await open();
  /** A status round trip: proves the server still answers, and times how long it took. */
  const ping = async () => {
    const started = performance.now();
    const answered = new Promise((resolve) => (waitingStatus = resolve));
    socket.send(JSON.stringify({ type: 'status' }));
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000));
    if ((await Promise.race([answered, timeout])) === 'timeout')
      stats.violations.push('status not answered within 10 s');
    stats.maxStatusMs = Math.max(stats.maxStatusMs, performance.now() - started);
  };
  for (let i = 0; i < count; i++) {
    if (socket.readyState !== WebSocket.OPEN) {
      stats.reconnects++;
      await open();
    }
    const ctx = {
      own,
      others: shared.all.filter((s) => s.owner !== own).map((s) => s.id),
      sources: shared.sources,
    };
    const message = controlMessage(r, ctx);
    socket.send(message);
    stats.controlSent++;
    // Keep the send buffer small: the fuzz measures the server, not our queue.
    while (socket.bufferedAmount > 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 1));
    if (i % 100 === 99) await ping();
  }
  if (socket.readyState !== WebSocket.OPEN) await open();
  await ping();
  socket.close();
}

/** Frame-port attempts: unknown/foreign/garbage ids, own sessions read, cut, or sent junk. */
async function frameRun(target, r, count, shared, stats) {
  const headers = shared.token ? { authorization: `Bearer ${shared.token}` } : {};
  for (let i = 0; i < count; i++) {
    const own = shared.all.length ? r.pick(shared.all) : undefined;
    const attempt = frameAttempt(r, { own: own ? [own.id] : [], others: shared.all.map((s) => s.id) });
    stats.frameAttempts++;
    await new Promise((resolve) => {
      let frames = 0;
      const socket = new WebSocket(`ws://127.0.0.1:${target.framesPort}${attempt.path}`, { headers });
      const done = setTimeout(() => socket.terminate(), 3000);
      socket.on('message', (data, isBinary) => {
        if (!isBinary) {
          try {
            const m = JSON.parse(data.toString());
            collect(stats, 'frameErrors', m.code);
            if (!CONTROL_ERROR_CODES.includes(m.code))
              stats.violations.push(`frame port: unknown code ${m.code}`);
            if (String(m.message).length > MAX_ECHO) stats.violations.push('frame port: unbounded message');
          } catch {
            stats.violations.push('frame port: text that is not JSON');
          }
          return;
        }
        frames++;
        stats.framesReceived++;
        if (attempt.action === 'cut' && frames > attempt.cutAfter) socket.terminate();
      });
      socket.on('open', () => {
        if (attempt.action === 'junk-text') socket.send('hello');
        if (attempt.action === 'junk-binary') socket.send(Buffer.alloc(r.int(1, 100_000)));
      });
      socket.on('error', () => collect(stats, 'frameErrors', 'refused'));
      socket.on('close', (code) => {
        clearTimeout(done);
        collect(stats, 'frameCloses', code);
        resolve();
      });
    });
  }
}

async function httpRun(target, r, count, stats, forbidden) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  for (let i = 0; i < count; i++) {
    const req = httpRequest(r, { port: target.httpPort });
    stats.httpSent++;
    await new Promise((resolve) => {
      const headers = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
      const request = http.request(
        {
          host: '127.0.0.1',
          port: target.httpPort,
          method: req.method,
          path: req.path,
          headers,
          agent,
          setHost: !('host' in headers),
        },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d.toString()));
          res.on('end', () => {
            collect(stats, 'httpStatus', res.statusCode);
            if (res.statusCode >= 500 && res.statusCode !== 507)
              stats.violations.push(
                `HTTP ${res.statusCode} on ${req.method} ${req.path.slice(0, 40)}: ${body.slice(0, 120)}`,
              );
            // Errors never show a server path (a save's own answer names the folder it wrote, on purpose).
            if (res.statusCode >= 400)
              for (const p of forbidden)
                if (p && body.includes(p))
                  stats.violations.push(`HTTP error shows a server path (${req.path.slice(0, 60)})`);
            resolve();
          });
        },
      );
      request.on('error', () => {
        collect(stats, 'httpStatus', 'connection-error');
        resolve();
      });
      if (req.body !== undefined) request.write(req.body);
      request.end();
    });
  }
  agent.destroy();
}

/**
 * Runs `controlMessages` control messages over `connections` connections, `frameAttempts` frame-socket
 * attempts and `httpRequests` HTTP requests, all from `seed`. Returns counts, errors by code, the slowest
 * status round trip and every violated expectation.
 */
export async function runFuzz(target, options) {
  const {
    seed,
    controlMessages,
    connections = 4,
    frameAttempts,
    httpRequests,
    token,
    forbiddenStrings = [],
  } = options;
  const stats = {
    seed,
    controlSent: 0,
    replies: 0,
    controlErrors: {},
    controlReplies: {},
    controlCloses: {},
    reconnects: 0,
    frameAttempts: 0,
    framesReceived: 0,
    frameErrors: {},
    frameCloses: {},
    httpSent: 0,
    httpStatus: {},
    maxStatusMs: 0,
    violations: [],
  };
  const shared = { all: [], sources: ['fashion-mnist-test', 'fashion-mnist-train', 'camera', 'nope'], token };
  const base = prng(seed);
  const streams = Array.from({ length: connections + 2 }, () => prng(base.int(0, 2 ** 31)));
  const per = Math.ceil(controlMessages / connections);
  await Promise.all([
    ...streams.slice(0, connections).map((r) => controlRun(target, r, per, shared, stats)),
    frameRun(target, streams[connections], frameAttempts, shared, stats),
    httpRun(target, streams[connections + 1], httpRequests, stats, forbiddenStrings),
  ]);
  if (target.state.exited)
    stats.violations.push(`target exited (code ${target.state.code}, signal ${target.state.signal})`);
  return stats;
}

/**
 * The expiry storm: `connections` connections each send `startsEach` starts that never connect a frame
 * socket; a separate connection times status round trips every 20 ms until every accepted session has
 * expired. Returns sessions accepted and refused (too-many-sessions), and the slowest round trip.
 */
export async function expiryStorm(target, { connections = 50, startsEach = 100, token } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const open = () =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${target.controlPort}/`, { headers });
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const result = { accepted: 0, refused: 0, expired: 0, otherErrors: 0, maxStatusMs: 0, samples: 0 };
  const sockets = await Promise.all(Array.from({ length: connections }, open));
  const answered = sockets.map(
    (socket) =>
      new Promise((resolve) => {
        let replies = 0;
        socket.on('message', (data) => {
          const m = JSON.parse(data.toString());
          if (m.type === 'session') result.accepted++;
          else if (m.code === 'too-many-sessions') result.refused++;
          else if (m.code === 'session-expired') result.expired++;
          else result.otherErrors++;
          if (m.code !== 'session-expired' && ++replies === startsEach) resolve();
        });
      }),
  );
  for (const socket of sockets)
    for (let i = 0; i < startsEach; i++) socket.send(JSON.stringify({ type: 'start', count: 1, fps: 0 }));
  await Promise.all(answered);
  const probe = await open();
  const statusOnce = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      probe.once('message', () => resolve(performance.now() - t0));
      probe.send(JSON.stringify({ type: 'status' }));
    });
  while (result.expired < result.accepted) {
    result.maxStatusMs = Math.max(result.maxStatusMs, await statusOnce());
    result.samples++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const socket of [...sockets, probe]) socket.close();
  return result;
}

/**
 * The stall a large submission causes: a session of 5 frames is streamed and ended, then a `submit` of
 * about `megabytes` MB is sent while a second connection times status round trips every 10 ms. Returns
 * the answer to the submit and the slowest round trip.
 */
export async function submitStall(target, { megabytes = 12, token } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const open = () =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${target.controlPort}/`, { headers, maxPayload: 2 ** 30 });
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const next = (socket, test) =>
    new Promise((resolve) => {
      const on = (data) => {
        const m = JSON.parse(data.toString());
        if (!test(m)) return;
        socket.off('message', on);
        resolve(m);
      };
      socket.on('message', on);
    });
  const owner = await open();
  const sessionReply = next(owner, (m) => m.type === 'session' || m.type === 'error');
  owner.send(JSON.stringify({ type: 'start', count: 5, fps: 0 }));
  const session = await sessionReply;
  const ended = next(owner, (m) => m.type === 'end');
  const frames = new WebSocket(session.framesUrl, { headers });
  await new Promise((resolve) => frames.once('close', resolve));
  await ended;
  const n = Math.round((megabytes * 1024 * 1024) / 14);
  const seq = Array.from({ length: n }, (_, i) => i);
  const results = {
    format: 'framesift-results/1',
    sessionId: session.sessionId,
    predictions: { seq, label: seq.map((i) => i % 10), confidence: seq.map(() => 0.5) },
  };
  const text = JSON.stringify({
    type: 'submit',
    sessionId: session.sessionId,
    secret: session.secret,
    results,
  });
  const probe = await open();
  let done = false;
  let maxStatusMs = 0;
  const probing = (async () => {
    while (!done) {
      const t0 = performance.now();
      const reply = next(probe, (m) => m.type === 'status');
      probe.send(JSON.stringify({ type: 'status' }));
      await reply;
      maxStatusMs = Math.max(maxStatusMs, performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const answer = next(owner, (m) => m.type === 'scored' || m.type === 'error');
  const t0 = performance.now();
  owner.send(text);
  const reply = await answer;
  const answerMs = performance.now() - t0;
  done = true;
  await probing;
  owner.close();
  probe.close();
  return {
    bytes: Buffer.byteLength(text),
    answer: reply.type === 'error' ? reply.code : reply.type,
    answerMs,
    maxStatusMs,
  };
}
