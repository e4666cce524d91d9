/**
 * The control protocol (docs/design.md "Wire protocol", docs/protocol.md): each message parsed with its zod
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
  PROTOCOL_VERSION,
  type ServerMessage,
  type SessionMessage,
  type StartRequest,
  type StopRequest,
} from '../../common/wire/control.js';
import type { FrameSource } from '../sources/source.js';
import { bounded, quoted } from '../../common/text.js';
import { newSessionSecret } from '../access.js';
import { MAX_SUBMIT_DEPTH, jsonDepth, type SubmissionCheck } from '../submission-check.js';
import { SubmissionQueueFull, type SubmissionChecker } from '../submission-checker.js';
import { ProtocolError } from './protocol-error.js';
import {
  claim,
  isLive,
  statusOf,
  type AbortReason,
  type Session,
  type SessionTable,
} from './session-table.js';
import type { Submissions } from './submissions.js';

const log = loggerFor('stream.control');

/** Control messages up to this size are parsed on the event loop; bigger ones on the checker's worker. */
const INLINE_BYTES = 64 * 1024;

export interface ControlContext {
  table: SessionTable;
  submissions: Submissions;
  /** Checks large or deeply nested messages (submissions) on a worker thread. */
  checker: SubmissionChecker;
  /** Largest control message handled; a bigger one is answered too-large. */
  maxSubmitBytes: number;
  /** Source names a client may ask for; the first is the default. */
  offered: readonly string[];
  openSource(name: string): Promise<FrameSource>;
  framesPort(): number;
  closing(): boolean;
  send(socket: WebSocket | undefined, message: ServerMessage): void;
}

/** First zod issue as "path: message", for one-line errors ("count: Expected number, received string"). */
function firstIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const message = issue.message.endsWith('received undefined')
    ? 'Required'
    : issue.message.replace(/^Invalid input: e/, 'E');
  return `${issue.path.length ? issue.path.map(String).join('.') : '(message)'}: ${message}`;
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
  const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
  if (size > context.maxSubmitBytes) {
    throw new ProtocolError(
      'too-large',
      `control message of ${size} bytes: expected at most ${context.maxSubmitBytes} (--max-submit-bytes)`,
    );
  }
  const text = data.toString();
  // Large or deeply nested text (a submission) is parsed and validated off the event loop.
  if (text.length > INLINE_BYTES || jsonDepth(text) > MAX_SUBMIT_DEPTH) {
    if (context.closing()) throw new ProtocolError('not-ready', 'server is shutting down');
    let check: SubmissionCheck;
    try {
      check = await context.checker.check(text);
    } catch (err) {
      if (!(err instanceof SubmissionQueueFull)) throw err;
      throw new ProtocolError('not-ready', 'submit: the server is busy checking other submissions; retry');
    }
    if (!check.ok) throw new ProtocolError(check.code, check.message);
    return context.submissions.accept(check, control);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('bad-json', `control message is not JSON (${bounded(errorMessage(err))})`);
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
      `unknown message type ${quoted(type, 64)}: expected ${CLIENT_MESSAGE_TYPES.join(', ')}`,
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
      // A connection sees its own sessions only.
      context.send(control, {
        type: 'status',
        sessions: [...context.table.ownedBy(control)].map(statusOf),
        sources: [...context.offered],
        protocolVersion: PROTOCOL_VERSION,
      });
      return;
    case 'submit':
      return context.submissions.submit(message, control);
  }
}

async function start(context: ControlContext, request: StartRequest, control: WebSocket, host: string) {
  const refusal = context.table.pendingRefusal(control);
  if (refusal) throw new ProtocolError('too-many-sessions', `start: ${refusal}`);
  const name = request.source ?? context.offered[0]!;
  if (!context.offered.includes(name)) {
    throw new ProtocolError(
      'unknown-source',
      `source ${quoted(name)} is not offered: expected one of ${context.offered.join(', ')}`,
    );
  }
  let source: FrameSource;
  try {
    source = await context.openSource(name);
  } catch (err) {
    throw new ProtocolError(
      'unknown-source',
      `source ${quoted(name)} cannot be opened: ${bounded(errorMessage(err), 300)}`,
    );
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
    startedBy: control,
    secret: newSessionSecret(),
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
    secret: session.secret,
    protocolVersion: PROTOCOL_VERSION,
  };
  context.send(control, reply);
  log.info('session created', { sessionId: session.id, source: name, count, fps });
}

async function stop(context: ControlContext, request: StopRequest, control: WebSocket): Promise<void> {
  const session = context.table.get(request.sessionId);
  if (!session) throw new ProtocolError('unknown-session', `stop: no session ${quoted(request.sessionId)}`);
  if (!claim(session, control, request.secret)) {
    throw new ProtocolError(
      'not-owner',
      `stop: session ${session.id} belongs to another control connection (send its secret to take it over)`,
    );
  }
  if (isLive(session)) {
    session.abort.abort('stop' satisfies AbortReason);
    await session.streaming;
    if (isLive(session)) context.table.setState(session, 'stopped');
    if (session.frameSocket?.readyState === WebSocket.OPEN) session.frameSocket.close(1000, 'stopped');
    log.info('session stopped', { sessionId: session.id, sent: session.sent });
  }
  context.send(control, { type: 'stopped', sessionId: session.id, sent: session.sent });
}
