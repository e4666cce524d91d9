/**
 * The stream server: a frame server (binary frames, one WebSocket per session) and a control server (JSON
 * messages: start, stop, status, submit), as specified in docs/design.md "Wire protocol" and docs/protocol.md.
 * This file holds the sockets and the server's life; the parts live in ./server/: the session table, the
 * streamer, the control protocol and the submissions.
 *
 * Nothing a client sends may crash it: every bad message is answered with an `error` carrying a stable
 * code, logged and counted, and the connection stays open unless the peer broke the transport itself.
 */
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { errorMessage } from '../common/errors.js';
import { closeHttp, listen, serveMetrics } from '../common/http.js';
import { accessPolicy } from '../common/http-guard.js';
import { loggerFor } from '../common/logger.js';
import { bounded } from '../common/text.js';
import type { ControlErrorCode, ErrorMessage, ServerMessage } from '../common/wire/control.js';
import { upgradeVerifier } from './access.js';
import { serverErrors } from './metrics.js';
import { handleControlMessage, type ControlContext } from './server/control-protocol.js';
import { ProtocolError } from './server/protocol-error.js';
import { SessionTable, isLive, statusOf, type AbortReason } from './server/session-table.js';
import { acceptFrameSocket } from './server/frame-sockets.js';
import { openSourceCatalogue } from './server/source-catalogue.js';
import type { StreamerContext } from './server/streamer.js';
import { Submissions } from './server/submissions.js';
import { SubmissionChecker } from './submission-checker.js';
import type { StreamServer, StreamServerOptions } from './server/types.js';

export type { SessionSnapshot, StreamServer, StreamServerOptions } from './server/types.js';

const log = loggerFor('stream.server');

/** Frame sockets carry no client messages; anything bigger than this is a transport-level violation. */
const FRAMES_MAX_PAYLOAD = 64 * 1024;

export async function startStreamServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  const host = options.host ?? '127.0.0.1';
  const maxPayloadBytes = options.maxPayloadBytes ?? 64 * 1024 * 1024;

  const sources = await openSourceCatalogue(options);

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
    log.warn('control request refused', { code, detail: message, ...(sessionId ? { sessionId } : {}) });
    const error: ErrorMessage = { type: 'error', code, message, ...(sessionId ? { sessionId } : {}) };
    send(socket, error);
  };

  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
  const table = new SessionTable({
    timeoutMs: sessionTimeoutMs,
    maxFinished: options.maxFinishedSessions ?? 1000,
    maxPending: options.maxPendingSessions ?? 1000,
    maxPendingPerConnection: options.maxPendingPerConnection ?? 16,
    onExpired: (session) =>
      reportError(
        session.control,
        'session-expired',
        `session ${session.id} expired: its frame socket did not connect within ${sessionTimeoutMs} ms`,
        session.id,
      ),
  });
  const submissions = new Submissions(
    table,
    options.resultsDir ?? path.join('out', 'server'),
    send,
    options.maxSubmissions ?? 10,
  );
  const checker = new SubmissionChecker();
  let closing = false;
  let framesPort = 0;
  const control: ControlContext = {
    table,
    submissions,
    checker,
    maxSubmitBytes: options.maxSubmitBytes ?? 16 * 1024 * 1024,
    offered: sources.offered,
    openSource: sources.named,
    framesPort: () => framesPort,
    closing: () => closing,
    send,
  };
  const streamer: StreamerContext = {
    table,
    highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
    send,
    reportError,
  };

  // Plain HTTP on the control port serves Prometheus metrics; everything else there is WebSocket.
  const controlHttp = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') return serveMetrics(res);
    res
      .writeHead(426, { 'content-type': 'text/plain' })
      .end('framesift control: WebSocket, or GET /metrics\n');
  });
  const framesHttp = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('framesift frames: WebSocket only\n');
  });
  // Every upgrade on both ports: Host, Origin and token (src/common/http-guard.ts), refused before it
  // becomes a WebSocket.
  const access = accessPolicy({
    bindHost: host,
    allowedOrigins: options.allowedOrigins,
    token: options.token,
  });
  const verifyClient = upgradeVerifier(access, (verdict, req) => {
    serverErrors.inc({ code: verdict.reason });
    log.warn('connection refused', {
      code: verdict.reason,
      detail: verdict.message,
      port: req.socket.localPort,
    });
  });
  const controlWss = new WebSocketServer({ server: controlHttp, maxPayload: maxPayloadBytes, verifyClient });
  const framesWss = new WebSocketServer({ server: framesHttp, maxPayload: FRAMES_MAX_PAYLOAD, verifyClient });
  for (const wss of [controlWss, framesWss]) {
    wss.on('error', (err) => log.error('WebSocket server error', { error: errorMessage(err) }));
  }

  controlWss.on('connection', (socket, request) => {
    // The frames URL a client gets uses the host name it reached us by (right when bound to 0.0.0.0).
    let advertisedHost = host;
    try {
      if (request.headers.host) advertisedHost = new URL(`ws://${request.headers.host}`).hostname;
    } catch {
      // keep the bound host
    }
    socket.on('error', (err) => {
      // ws has already closed the connection (1009 for an oversized message): log and count only.
      const tooLarge = (err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      const code = tooLarge ? 'too-large' : 'bad-message';
      serverErrors.inc({ code });
      log.warn('control socket error', {
        code,
        detail: tooLarge
          ? `control message larger than maxPayload ${maxPayloadBytes} bytes: connection closed (1009)`
          : errorMessage(err),
      });
    });
    socket.on('message', (data, isBinary) => {
      handleControlMessage(control, socket, data, isBinary, advertisedHost).catch((err: unknown) => {
        if (err instanceof ProtocolError) return reportError(socket, err.code, err.message);
        log.error('control request failed', { error: err instanceof Error ? err.stack : String(err) });
        reportError(socket, 'internal', `internal error: ${bounded(errorMessage(err), 300)}`);
      });
    });
  });

  framesWss.on('connection', (socket, request) => acceptFrameSocket(streamer, socket, request));

  framesPort = await listen(framesHttp, options.framesPort ?? 6000, host, 'frame server');
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
    source: sources.defaultName,
    sources: sources.offered,
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const sessions = [...table.all()];
      for (const session of sessions)
        if (isLive(session)) session.abort.abort('shutdown' satisfies AbortReason);
      await Promise.all(sessions.map((s) => s.streaming));
      for (const session of sessions) if (isLive(session)) table.setState(session, 'stopped');
      for (const wss of [controlWss, framesWss]) {
        for (const client of wss.clients) client.close(1001, 'server shutting down');
      }
      await submissions.settled();
      await checker.close();
      // Give close frames a moment to go out before the TCP connections are cut.
      await sleep(50);
      for (const wss of [controlWss, framesWss]) for (const client of wss.clients) client.terminate();
      await Promise.all(
        [controlWss, framesWss].map((wss) => new Promise<void>((resolve) => wss.close(() => resolve()))),
      );
      await Promise.all([closeHttp(controlHttp), closeHttp(framesHttp)]);
      table.clear();
      await sources.close();
      log.info('stream server closed');
    })();
    return closed;
  };

  return {
    host,
    framesPort,
    controlPort,
    sources: sources.offered,
    sessions: () =>
      [...table.all()].map((s) => ({
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
