/**
 * The control protocol (DESIGN.md "Wire protocol", docs/protocol.md): each message parsed with its zod
 * schema (src/common/wire/control.ts) and dispatched — start, stop, status, submit. Every bad request is a
 * ProtocolError with a stable code; the caller answers it with an `error`.
 */
import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import {
  CLIENT_MESSAGE_TYPES,
  clientMessageSchema,
  type ServerMessage,
  type SessionMessage,
  type StartRequest,
  type StopRequest,
} from '../../common/wire/control.js';
import type { FrameSource } from '../sources/source.js';
import { ProtocolError } from './protocol-error.js';
import { isLive, statusOf, type AbortReason, type Session, type SessionTable } from './session-table.js';
import type { Submissions } from './submissions.js';

const log = loggerFor('stream.control');

export interface ControlContext {
  table: SessionTable;
  submissions: Submissions;
  /** Source names a client may ask for; the first is the default. */
  offered: readonly string[];
  openSource(name: string): Promise<FrameSource>;
  framesPort(): number;
  closing(): boolean;
  send(socket: WebSocket | undefined, message: ServerMessage): void;
}

/** First zod issue as "path: message", for one-line errors. */
function firstIssue(error: { issues: Array<{ path: (string | number)[]; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.length ? issue.path.join('.') : '(message)'}: ${issue.message}`;
}

/** Parses one control message and runs it. `host` is the name the client reached the server by. */
export async function handleControlMessage(
  context: ControlContext,
  control: WebSocket,
  data: RawData,
  isBinary: boolean,
  host: string,
): Promise<void> {
  if (isBinary) {
    throw new ProtocolError('binary-on-control', 'binary message on the control port: expected JSON text');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString());
  } catch (err) {
    throw new ProtocolError('bad-json', `control message is not JSON (${errorMessage(err)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError('bad-message', 'control message must be a JSON object with a string "type"');
  }
  const type = (parsed as { type?: unknown }).type;
  if (typeof type !== 'string')
    throw new ProtocolError('bad-message', 'control message has no string "type"');
  if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(type)) {
    throw new ProtocolError(
      'unknown-type',
      `unknown message type "${type.slice(0, 64)}": expected ${CLIENT_MESSAGE_TYPES.join(', ')}`,
    );
  }
  if (context.closing()) throw new ProtocolError('not-ready', 'server is shutting down');
  const request = clientMessageSchema.safeParse(parsed);
  if (!request.success) throw new ProtocolError('bad-message', `${type}: ${firstIssue(request.error)}`);
  const message = request.data;
  switch (message.type) {
    case 'start':
      return start(context, message, control, host);
    case 'stop':
      return stop(context, message, control);
    case 'status':
      context.send(control, {
        type: 'status',
        sessions: [...context.table.all()].map(statusOf),
        sources: [...context.offered],
      });
      return;
    case 'submit':
      return context.submissions.submit(message, control);
  }
}

async function start(context: ControlContext, request: StartRequest, control: WebSocket, host: string) {
  const name = request.source ?? context.offered[0]!;
  if (!context.offered.includes(name)) {
    throw new ProtocolError(
      'unknown-source',
      `source "${name}" is not offered: expected one of ${context.offered.join(', ')}`,
    );
  }
  let source: FrameSource;
  try {
    source = await context.openSource(name);
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
    maxBufferedBytes: 0,
    reanchors: 0,
    submissions: 0,
  };
  context.table.add(session);
  const { width, height, channels } = source.info;
  const reply: SessionMessage = {
    type: 'session',
    sessionId: session.id,
    ...(count !== undefined ? { count } : {}),
    fps,
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
    ...(channels !== undefined ? { channels } : {}),
    framesUrl: `ws://${host}:${context.framesPort()}/?session=${session.id}`,
    source: name,
  };
  context.send(control, reply);
  log.info('session created', { sessionId: session.id, source: name, count, fps });
}

async function stop(context: ControlContext, request: StopRequest, control: WebSocket): Promise<void> {
  const session = context.table.get(request.sessionId);
  if (!session) throw new ProtocolError('unknown-session', `stop: no session "${request.sessionId}"`);
  if (isLive(session)) {
    session.abort.abort('stop' satisfies AbortReason);
    await session.streaming;
    if (isLive(session)) context.table.setState(session, 'stopped');
    if (session.frameSocket?.readyState === WebSocket.OPEN) session.frameSocket.close(1000, 'stopped');
    log.info('session stopped', { sessionId: session.id, sent: session.sent });
  }
  context.send(control, { type: 'stopped', sessionId: session.id, sent: session.sent });
}
