/**
 * The frame port's side of a session: a frame socket (`/?session=<id>`) is matched to a session waiting
 * for it, or refused with a stable code (unknown, expired, finished, a second socket); once matched, the
 * streamer sends the session's frames on it. Frame sockets carry no client messages.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { quoted } from '../../common/text.js';
import type { ControlErrorCode } from '../../common/wire/control.js';
import { serverErrors } from '../metrics.js';
import { isFinished, type AbortReason } from './session-table.js';
import { streamSession, type StreamerContext } from './streamer.js';

const log = loggerFor('stream.server');

/** Takes a new frame socket: refuses it (1008 with the code) or starts streaming its session on it. */
export function acceptFrameSocket(
  streamer: StreamerContext,
  socket: WebSocket,
  request: IncomingMessage,
): void {
  const { table, reportError } = streamer;
  const reject = (code: ControlErrorCode, message: string, sessionId?: string): void => {
    reportError(socket, code, message, sessionId);
    socket.close(1008, code);
  };
  socket.on('error', (err) => {
    if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      serverErrors.inc({ code: 'too-large' });
    }
    log.warn('frame socket error', { error: errorMessage(err) });
  });
  let id: string | null = null;
  try {
    id = new URL(request.url ?? '/', 'ws://frames').searchParams.get('session');
  } catch {
    // an unparsable URL is an unknown session below
  }
  const session = id ? table.get(id) : undefined;
  if (!id || !session) {
    const message = `frame socket for unknown session ${quoted(id ?? '')}: expected /?session=<id from start>`;
    return reject('unknown-session', message);
  }
  if (session.state === 'expired') {
    return reject('session-expired', `session ${id} expired before its frame socket connected`, id);
  }
  if (isFinished(session)) {
    return reject('unknown-session', `session ${id} is ${session.state}: nothing to stream`, id);
  }
  if (session.everConnected) {
    return reject('duplicate-frame-socket', `session ${id} already has a frame socket`, id);
  }
  table.connected(session);
  session.everConnected = true;
  session.frameSocket = socket;
  table.setState(session, 'streaming');
  socket.on('message', (_data, isBinary) => {
    const got = isBinary ? 'binary' : 'text';
    const message = `session ${id}: the frame socket carries no client messages (got ${got})`;
    reportError(socket, isBinary ? 'bad-message' : 'text-on-frames', message, id);
  });
  socket.on('close', () => session.abort.abort('closed' satisfies AbortReason));
  session.streaming = streamSession(streamer, session, socket).catch((err: unknown) => {
    log.error('stream failed', { sessionId: id, error: err instanceof Error ? err.stack : String(err) });
  });
}
