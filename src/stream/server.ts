/**
 * The stream server: a frame server (binary frames, one WebSocket per session) and a control server (JSON
 * messages: start, stop, status, submit), as specified in DESIGN.md "Wire protocol" and docs/protocol.md.
 *
 * Nothing a client sends may crash it: every bad message is answered with an `error` carrying a stable
 * code, logged and counted, and the connection stays open unless the peer broke the transport itself.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { metricsRegistry } from '../common/metrics.js';
import { validateResultsDocument } from '../common/results-document.js';
import {
  CLIENT_MESSAGE_TYPES,
  rateRequestSchema,
  startRequestSchema,
  statusRequestSchema,
  stopRequestSchema,
  submitRequestSchema,
  type ControlErrorCode,
  type EndMessage,
  type ErrorMessage,
  type RateRequest,
  type ServerMessage,
  type SessionMessage,
  type SessionState,
  type SessionStatus,
  type StartRequest,
  type StopRequest,
  type SubmitRequest,
} from '../common/wire/control.js';
import { encodeFrame } from '../common/wire/header.js';
import { framesSent, serverErrors, sessionsByState, sessionsExpired, submissions } from './metrics.js';
import { Pacer } from './pacer.js';
import { scoreSubmission } from './scoring.js';
import { BUILTIN_SOURCES, DEFAULT_SOURCE, openSource } from './sources/index.js';
import type { CameraSourceOptions, FrameSource } from './sources/source.js';

const log = loggerFor('stream.server');

export interface StreamServerOptions {
  /** Bind address; default 127.0.0.1 (use 0.0.0.0 to expose). */
  host?: string;
  /** 0 = any free port; default 6000. */
  framesPort?: number;
  /** 0 = any free port; default 7000. */
  controlPort?: number;
  /** The source streamed when `start` names none; default fashion-mnist-test. */
  source?: string;
  fashionMnistDir?: string;
  camera?: CameraSourceOptions;
  /** Where submissions and scores are written; default out/server. */
  resultsDir?: string;
  /** A session whose frame socket has not connected within this time expires; default 30 s. */
  sessionTimeoutMs?: number;
  /** Largest control message accepted; default 64 MiB. */
  maxPayloadBytes?: number;
  /**
   * Backpressure: while more than this many bytes wait in a frame socket's send buffer, the session waits
   * (fps 0: until the receiver drains; paced: the schedule re-anchors after the stall). Default 1 MiB.
   */
  highWaterBytes?: number;
  /** Finished sessions kept for status and late submissions; the oldest are forgotten first. Default 1000. */
  maxFinishedSessions?: number;
}

export interface StreamServer {
  host: string;
  framesPort: number;
  controlPort: number;
  /** Source names a client may ask for. */
  sources: string[];
  /** Internal view of the sessions (for tests and the demo). */
  sessions(): SessionSnapshot[];
  /** Stops streaming, closes every socket with 1001, waits for pending result writes. Idempotent. */
  close(): Promise<void>;
}

export interface SessionSnapshot extends SessionStatus {
  fps: number;
  durationMs?: number;
  /** Highest send-buffer fill observed, bytes: shows backpressure kept memory bounded. */
  maxBufferedBytes: number;
  reanchors: number;
  submissions: number;
}

/** Frame sockets carry no client messages; anything bigger than this is a transport-level violation. */
const FRAMES_MAX_PAYLOAD = 64 * 1024;
/** How often a session blocked on backpressure checks the socket again. */
const DRAIN_POLL_MS = 2;

interface Session {
  id: string;
  source: FrameSource;
  sourceName: string;
  count?: number;
  fps: number;
  state: SessionState;
  sent: number;
  /** True label of each frame sent, by seq (labelled sources only). Never leaves the server. */
  labels?: number[];
  control?: WebSocket;
  frameSocket?: WebSocket;
  everConnected: boolean;
  abort: AbortController;
  /** Set by a `rate` message (the camera follows it); aborted and replaced on each change to wake the pacer. */
  rateOverride?: number;
  rateChanged: AbortController;
  expiry?: NodeJS.Timeout;
  streaming?: Promise<void>;
  durationMs?: number;
  maxBufferedBytes: number;
  reanchors: number;
  submissions: number;
}

class ProtocolError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const FINISHED: readonly SessionState[] = ['ended', 'stopped', 'expired', 'failed'];

function listen(server: http.Server, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new UserError(`${what} cannot listen on ${host}:${port} (${err.code ?? errorMessage(err)})`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** First zod issue as "path: message", for one-line errors. */
function firstIssue(error: { issues: Array<{ path: (string | number)[]; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.length ? issue.path.join('.') : '(message)'}: ${issue.message}`;
}

export async function startStreamServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  const host = options.host ?? '127.0.0.1';
  const defaultSourceName = options.source ?? DEFAULT_SOURCE;
  const resultsDir = options.resultsDir ?? path.join('out', 'server');
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
  const maxPayloadBytes = options.maxPayloadBytes ?? 64 * 1024 * 1024;
  const highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
  const maxFinished = options.maxFinishedSessions ?? 1000;

  // Sources are opened once and shared by sessions; the default one now, so a bad --source fails at start.
  const offered = [defaultSourceName, ...BUILTIN_SOURCES.filter((name) => name !== defaultSourceName)];
  const opened = new Map<string, Promise<FrameSource>>();
  const sourceNamed = (name: string): Promise<FrameSource> => {
    let source = opened.get(name);
    if (!source) {
      source = openSource(name, { fashionMnistDir: options.fashionMnistDir, camera: options.camera });
      opened.set(name, source);
      source.catch(() => opened.delete(name));
    }
    return source;
  };
  await sourceNamed(defaultSourceName);

  const sessions = new Map<string, Session>();
  const pendingWrites = new Set<Promise<void>>();
  let closing = false;

  // ---- helpers ----

  const setState = (session: Session, state: SessionState): void => {
    sessionsByState.dec({ state: session.state });
    sessionsByState.inc({ state });
    session.state = state;
  };

  const send = (socket: WebSocket | undefined, message: ServerMessage): void => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  const reportError = (
    socket: WebSocket | undefined,
    code: ControlErrorCode,
    message: string,
    sessionId?: string,
  ): void => {
    serverErrors.inc({ code });
    log.warn(message, { code, ...(sessionId ? { sessionId } : {}) });
    const error: ErrorMessage = { type: 'error', code, message, ...(sessionId ? { sessionId } : {}) };
    send(socket, error);
  };

  /** Forgets the oldest finished sessions beyond the retention limit. */
  const prune = (): void => {
    let finished = 0;
    for (const session of sessions.values()) if (FINISHED.includes(session.state)) finished++;
    for (const [id, session] of sessions) {
      if (finished <= maxFinished) break;
      if (!FINISHED.includes(session.state)) continue;
      sessions.delete(id);
      sessionsByState.dec({ state: session.state });
      finished--;
    }
  };

  const statusOf = (session: Session): SessionStatus => ({
    sessionId: session.id,
    state: session.state,
    sent: session.sent,
    ...(session.count !== undefined ? { count: session.count } : {}),
    source: session.sourceName,
  });

  // ---- streaming ----

  /** Waits while the frame socket's send buffer is above the high-water mark. False if the socket closed. */
  async function drained(session: Session, socket: WebSocket): Promise<boolean> {
    while (socket.bufferedAmount > highWaterBytes) {
      if (socket.readyState !== WebSocket.OPEN || session.abort.signal.aborted) return false;
      await sleep(DRAIN_POLL_MS);
    }
    return socket.readyState === WebSocket.OPEN && !session.abort.signal.aborted;
  }

  /** Why a session's streaming was aborted: a `stop`, a server shutdown, or the receiver closing its socket. */
  type AbortReason = 'stop' | 'shutdown' | 'closed';

  async function stream(session: Session, socket: WebSocket): Promise<void> {
    const signal = session.abort.signal;
    const started = performance.now();
    let pacer = session.fps > 0 ? new Pacer(session.fps, started) : undefined;
    let pacedFps = session.fps;
    const finish = () => {
      session.durationMs = performance.now() - started;
      session.reanchors = pacer?.reanchors ?? 0;
    };
    let exhausted = false;
    try {
      const rate = () => session.rateOverride;
      // Aborted by a stop or by a rate change (one combined signal per rate, not per frame).
      let epoch = session.rateChanged;
      let wake = AbortSignal.any([signal, epoch.signal]);
      for await (const frame of session.source.frames({ count: session.count, signal, rate })) {
        if (signal.aborted) break;
        // A `rate` message retimes the schedule from this frame on, and wakes a wait for the old rate.
        for (;;) {
          if (session.fps !== pacedFps) {
            pacedFps = session.fps;
            if (pacedFps === 0) pacer = undefined;
            else
              (pacer ??= new Pacer(pacedFps, performance.now())).retime(
                pacedFps,
                session.sent,
                performance.now(),
              );
          }
          if (!pacer) break;
          const delay = pacer.delayBefore(session.sent, performance.now());
          if (delay <= 0) break;
          if (session.rateChanged !== epoch) {
            epoch = session.rateChanged;
            wake = AbortSignal.any([signal, epoch.signal]);
          }
          const slept = await sleep(delay, true, { signal: wake }).catch(() => false);
          if (signal.aborted) throw signal.reason;
          if (slept) break;
        }
        if (!(await drained(session, socket))) break;
        const message = encodeFrame(
          {
            seq: session.sent,
            width: frame.width,
            height: frame.height,
            channels: frame.channels,
            encoding: frame.encoding,
            sentAt: Date.now(),
          },
          frame.payload,
        );
        socket.send(message);
        if (session.labels) session.labels.push(frame.label ?? -1);
        session.sent++;
        framesSent.inc();
        if (socket.bufferedAmount > session.maxBufferedBytes)
          session.maxBufferedBytes = socket.bufferedAmount;
        if (session.count !== undefined && session.sent >= session.count) break;
      }
      exhausted = !signal.aborted && socket.readyState === WebSocket.OPEN;
    } catch (err) {
      if (!signal.aborted) {
        finish();
        setState(session, 'failed');
        reportError(
          session.control,
          'internal',
          `session ${session.id}: source failed after ${session.sent} frames (${errorMessage(err)})`,
          session.id,
        );
        if (socket.readyState === WebSocket.OPEN) socket.close(1011, 'source failed');
        prune();
        return;
      }
    }
    const reason = signal.aborted ? (signal.reason as AbortReason) : undefined;
    if (exhausted && pacer && session.sent > 0) {
      // The session lasts `sent` whole frame periods: the last frame owns its slot too.
      const remaining = pacer.targetOf(session.sent) - performance.now();
      if (remaining > 0) await sleep(remaining, undefined, { signal }).catch(() => undefined);
    }
    finish();
    if (exhausted && (!signal.aborted || signal.reason === 'closed')) {
      setState(session, 'ended');
      const end: EndMessage = {
        type: 'end',
        sessionId: session.id,
        sent: session.sent,
        durationMs: Math.round(session.durationMs! * 10) / 10,
      };
      send(session.control, end);
      log.info('session ended', { sessionId: session.id, sent: session.sent, durationMs: end.durationMs });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'end of stream');
    } else if (reason === 'closed' || (!signal.aborted && socket.readyState !== WebSocket.OPEN)) {
      // The receiver went away mid-stream (not a stop, not a shutdown).
      setState(session, 'failed');
      send(session.control, {
        type: 'end',
        sessionId: session.id,
        sent: session.sent,
        durationMs: Math.round(session.durationMs! * 10) / 10,
        reason: 'frame-socket-closed',
      });
      log.warn('frame socket closed mid-stream', { sessionId: session.id, sent: session.sent });
    }
    // 'stop' and 'shutdown' set the final state themselves.
    prune();
  }

  // ---- control requests ----

  async function handleStart(
    request: StartRequest,
    control: WebSocket,
    advertisedHost: string,
  ): Promise<void> {
    const name = request.source ?? defaultSourceName;
    if (!offered.includes(name)) {
      throw new ProtocolError(
        'unknown-source',
        `source "${name}" is not offered: expected one of ${offered.join(', ')}`,
      );
    }
    let source: FrameSource;
    try {
      source = await sourceNamed(name);
    } catch (err) {
      throw new ProtocolError('unknown-source', `source "${name}" cannot be opened: ${errorMessage(err)}`);
    }
    const length = source.info.length;
    if (request.count !== undefined && length !== undefined && request.count > length) {
      throw new ProtocolError(
        'bad-message',
        `count ${request.count}: source "${name}" has only ${length} frames`,
      );
    }
    const count = request.count ?? length;
    const fps = request.fps ?? 10;
    const session: Session = {
      id: randomUUID(),
      source,
      sourceName: name,
      count,
      fps,
      state: 'waiting',
      sent: 0,
      labels: source.info.labelled ? [] : undefined,
      control,
      everConnected: false,
      abort: new AbortController(),
      rateChanged: new AbortController(),
      maxBufferedBytes: 0,
      reanchors: 0,
      submissions: 0,
    };
    sessions.set(session.id, session);
    sessionsByState.inc({ state: 'waiting' });
    session.expiry = setTimeout(() => expire(session), sessionTimeoutMs);
    const reply: SessionMessage = {
      type: 'session',
      sessionId: session.id,
      ...(count !== undefined ? { count } : {}),
      fps,
      ...(source.info.width !== undefined ? { width: source.info.width } : {}),
      ...(source.info.height !== undefined ? { height: source.info.height } : {}),
      ...(source.info.channels !== undefined ? { channels: source.info.channels } : {}),
      framesUrl: `ws://${advertisedHost}:${framesPort}/?session=${session.id}`,
      source: name,
    };
    send(control, reply);
    log.info('session created', { sessionId: session.id, source: name, count, fps });
  }

  function expire(session: Session): void {
    if (session.state !== 'waiting') return;
    setState(session, 'expired');
    sessionsExpired.inc();
    reportError(
      session.control,
      'session-expired',
      `session ${session.id} expired: its frame socket did not connect within ${sessionTimeoutMs} ms`,
      session.id,
    );
    prune();
  }

  async function handleStop(request: StopRequest, control: WebSocket): Promise<void> {
    const session = sessions.get(request.sessionId);
    if (!session) throw new ProtocolError('unknown-session', `stop: no session "${request.sessionId}"`);
    if (session.state === 'waiting' || session.state === 'streaming') {
      clearTimeout(session.expiry);
      session.abort.abort('stop' satisfies AbortReason);
      await session.streaming;
      if (session.state === 'waiting' || session.state === 'streaming') setState(session, 'stopped');
      if (session.frameSocket?.readyState === WebSocket.OPEN) session.frameSocket.close(1000, 'stopped');
      log.info('session stopped', { sessionId: session.id, sent: session.sent });
      prune();
    }
    send(control, { type: 'stopped', sessionId: session.id, sent: session.sent });
  }

  function handleRate(request: RateRequest, control: WebSocket): void {
    const session = sessions.get(request.sessionId);
    if (!session) throw new ProtocolError('unknown-session', `rate: no session "${request.sessionId}"`);
    if (FINISHED.includes(session.state)) {
      throw new ProtocolError('unknown-session', `rate: session ${session.id} is ${session.state}`);
    }
    session.fps = request.fps;
    session.rateOverride = request.fps > 0 ? request.fps : undefined;
    const woken = session.rateChanged;
    session.rateChanged = new AbortController();
    woken.abort();
    log.info('session rate changed', { sessionId: session.id, fps: request.fps });
    send(control, { type: 'rate', sessionId: session.id, fps: session.fps });
  }

  async function persist(
    sessionId: string,
    n: number,
    submission: unknown,
    score: unknown,
  ): Promise<string[]> {
    const dir = path.join(resultsDir, sessionId);
    await mkdir(dir, { recursive: true });
    const written: string[] = [];
    for (const [name, value] of [
      [`submission-${n}.json`, submission],
      [`score-${n}.json`, score],
    ] as const) {
      const file = path.join(dir, name);
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(value, null, 1));
      await rename(temp, file);
      written.push(file);
    }
    return written;
  }

  async function handleSubmit(request: SubmitRequest, control: WebSocket): Promise<void> {
    const session = sessions.get(request.sessionId);
    if (!session) {
      submissions.inc({ outcome: 'unknown-session' });
      throw new ProtocolError('unknown-session', `submit: no session "${request.sessionId}"`);
    }
    if (!FINISHED.includes(session.state)) {
      submissions.inc({ outcome: 'not-ready' });
      throw new ProtocolError(
        'not-ready',
        `submit: session ${session.id} is still ${session.state}; submit after end or stop`,
      );
    }
    const validation = validateResultsDocument(request.results);
    if (!validation.ok) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError('invalid-results', `submit: invalid results document: ${validation.errors}`);
    }
    if (validation.document.sessionId !== session.id) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError(
        'invalid-results',
        `submit: results.sessionId "${validation.document.sessionId}" does not match sessionId "${session.id}"`,
      );
    }
    const score = scoreSubmission(validation.document, session.sent, session.labels);
    session.submissions++;
    const scored = { type: 'scored' as const, sessionId: session.id, ...score };
    const writing = persist(session.id, session.submissions, request.results, scored).then(
      (files) => {
        log.info('submission scored', { sessionId: session.id, accuracy: score.accuracy, files });
      },
      (err: unknown) => {
        log.error('cannot persist submission', { sessionId: session.id, error: errorMessage(err) });
      },
    );
    pendingWrites.add(writing);
    void writing.finally(() => pendingWrites.delete(writing));
    await writing;
    submissions.inc({ outcome: 'scored' });
    send(control, scored);
  }

  function handleStatus(control: WebSocket): void {
    send(control, { type: 'status', sessions: [...sessions.values()].map(statusOf), sources: offered });
  }

  async function onControlMessage(control: WebSocket, data: RawData, isBinary: boolean, host: string) {
    if (isBinary) {
      throw new ProtocolError('binary-on-control', 'binary message on the control port: expected JSON text');
    }
    const text = data.toString();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ProtocolError('bad-json', `control message is not JSON (${errorMessage(err)})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ProtocolError('bad-message', 'control message must be a JSON object with a string "type"');
    }
    const type = (parsed as { type?: unknown }).type;
    if (typeof type !== 'string') {
      throw new ProtocolError('bad-message', 'control message has no string "type"');
    }
    if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(type)) {
      throw new ProtocolError(
        'unknown-type',
        `unknown message type "${type.slice(0, 64)}": expected ${CLIENT_MESSAGE_TYPES.join(', ')}`,
      );
    }
    if (closing) throw new ProtocolError('not-ready', 'server is shutting down');
    switch (type) {
      case 'start': {
        const request = startRequestSchema.safeParse(parsed);
        if (!request.success) throw new ProtocolError('bad-message', `start: ${firstIssue(request.error)}`);
        return handleStart(request.data, control, host);
      }
      case 'stop': {
        const request = stopRequestSchema.safeParse(parsed);
        if (!request.success) throw new ProtocolError('bad-message', `stop: ${firstIssue(request.error)}`);
        return handleStop(request.data, control);
      }
      case 'status': {
        const request = statusRequestSchema.safeParse(parsed);
        if (!request.success) throw new ProtocolError('bad-message', `status: ${firstIssue(request.error)}`);
        return handleStatus(control);
      }
      case 'rate': {
        const request = rateRequestSchema.safeParse(parsed);
        if (!request.success) throw new ProtocolError('bad-message', `rate: ${firstIssue(request.error)}`);
        return handleRate(request.data, control);
      }
      default: {
        const request = submitRequestSchema.safeParse(parsed);
        if (!request.success) throw new ProtocolError('bad-message', `submit: ${firstIssue(request.error)}`);
        return handleSubmit(request.data, control);
      }
    }
  }

  // ---- servers ----

  // Plain HTTP on the control port serves Prometheus metrics; everything else there is WebSocket.
  const controlHttp = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      metricsRegistry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(errorMessage(err)),
      );
      return;
    }
    res
      .writeHead(426, { 'content-type': 'text/plain' })
      .end('framesift control: WebSocket, or GET /metrics\n');
  });
  const framesHttp = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('framesift frames: WebSocket only\n');
  });
  const controlWss = new WebSocketServer({ server: controlHttp, maxPayload: maxPayloadBytes });
  const framesWss = new WebSocketServer({ server: framesHttp, maxPayload: FRAMES_MAX_PAYLOAD });
  for (const wss of [controlWss, framesWss]) {
    wss.on('error', (err) => log.error('WebSocket server error', { error: errorMessage(err) }));
  }

  controlWss.on('connection', (control, request) => {
    // The frames URL a client gets uses the host name it reached us by (right when bound to 0.0.0.0).
    let advertisedHost = host;
    try {
      if (request.headers.host) advertisedHost = new URL(`ws://${request.headers.host}`).hostname;
    } catch {
      // keep the bound host
    }
    control.on('error', (err) => {
      const code = (err as { code?: string }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        // ws has already closed the connection with 1009; the error can only be logged and counted.
        serverErrors.inc({ code: 'too-large' });
        log.warn(
          `control message larger than maxPayload ${maxPayloadBytes} bytes: connection closed (1009)`,
          {
            code: 'too-large',
          },
        );
      } else {
        serverErrors.inc({ code: 'bad-message' });
        log.warn('control socket error', { error: errorMessage(err), code: 'bad-message' });
      }
    });
    control.on('message', (data, isBinary) => {
      onControlMessage(control, data, isBinary, advertisedHost).catch((err: unknown) => {
        if (err instanceof ProtocolError) {
          reportError(control, err.code, err.message);
        } else {
          log.error('control request failed', { error: err instanceof Error ? err.stack : String(err) });
          reportError(control, 'internal', `internal error: ${errorMessage(err)}`);
        }
      });
    });
  });

  framesWss.on('connection', (socket, request) => {
    const reject = (code: ControlErrorCode, message: string, sessionId?: string) => {
      reportError(socket, code, message, sessionId);
      socket.close(1008, code);
    };
    socket.on('error', (err) => {
      const code = (err as { code?: string }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') serverErrors.inc({ code: 'too-large' });
      log.warn('frame socket error', { error: errorMessage(err) });
    });
    let id: string | null = null;
    try {
      id = new URL(request.url ?? '/', 'ws://frames').searchParams.get('session');
    } catch {
      // an unparsable URL is an unknown session below
    }
    const session = id ? sessions.get(id) : undefined;
    if (!id || !session) {
      return reject(
        'unknown-session',
        `frame socket for unknown session "${id ?? ''}": expected /?session=<id from start>`,
      );
    }
    if (session.everConnected) {
      return reject('duplicate-frame-socket', `session ${id} already has a frame socket`, id);
    }
    if (session.state === 'expired') {
      return reject('session-expired', `session ${id} expired before its frame socket connected`, id);
    }
    if (session.state !== 'waiting') {
      return reject('unknown-session', `session ${id} is ${session.state}: nothing to stream`, id);
    }
    clearTimeout(session.expiry);
    session.everConnected = true;
    session.frameSocket = socket;
    setState(session, 'streaming');
    socket.on('message', (_data, isBinary) => {
      reportError(
        socket,
        isBinary ? 'bad-message' : 'text-on-frames',
        `session ${id}: the frame socket carries no client messages (got ${isBinary ? 'binary' : 'text'})`,
        id,
      );
    });
    socket.on('close', () => session.abort.abort('closed' satisfies AbortReason));
    session.streaming = stream(session, socket).catch((err: unknown) => {
      log.error('stream failed', { sessionId: id, error: err instanceof Error ? err.stack : String(err) });
    });
  });

  const framesPort = await listen(framesHttp, options.framesPort ?? 6000, host, 'frame server');
  let controlPort: number;
  try {
    controlPort = await listen(controlHttp, options.controlPort ?? 7000, host, 'control server');
  } catch (err) {
    await closeHttp(framesHttp);
    throw err;
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  log.info('stream server listening', {
    frames: `ws://${shown}:${framesPort}/?session=<id>`,
    control: `ws://${shown}:${controlPort}/`,
    framesPort,
    controlPort,
    source: defaultSourceName,
    sources: offered,
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      for (const session of sessions.values()) {
        clearTimeout(session.expiry);
        if (session.state === 'waiting' || session.state === 'streaming')
          session.abort.abort('shutdown' satisfies AbortReason);
      }
      await Promise.all([...sessions.values()].map((s) => s.streaming));
      for (const session of sessions.values()) {
        if (session.state === 'waiting' || session.state === 'streaming') setState(session, 'stopped');
      }
      for (const wss of [controlWss, framesWss]) {
        for (const client of wss.clients) client.close(1001, 'server shutting down');
      }
      await Promise.all([...pendingWrites]);
      // Give close frames a moment to go out before the TCP connections are cut.
      await sleep(50);
      for (const wss of [controlWss, framesWss]) for (const client of wss.clients) client.terminate();
      await Promise.all([
        new Promise<void>((resolve) => controlWss.close(() => resolve())),
        new Promise<void>((resolve) => framesWss.close(() => resolve())),
      ]);
      await Promise.all([closeHttp(controlHttp), closeHttp(framesHttp)]);
      for (const session of sessions.values()) sessionsByState.dec({ state: session.state });
      sessions.clear();
      for (const source of opened.values()) await source.then((s) => s.close()).catch(() => undefined);
      log.info('stream server closed');
    })();
    return closed;
  };

  return {
    host,
    framesPort,
    controlPort,
    sources: offered,
    sessions: () =>
      [...sessions.values()].map((s) => ({
        ...statusOf(s),
        fps: s.fps,
        ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
        maxBufferedBytes: s.maxBufferedBytes,
        reanchors: s.reanchors,
        submissions: s.submissions,
      })),
    close,
  };
}
