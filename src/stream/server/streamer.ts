/**
 * Streams one session's frames to its frame socket: paced at the session's fps (or as fast as the
 * receiver drains at fps 0), with backpressure on the socket's send buffer, then `end` on the control
 * socket — or the session's failure.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import type { ControlErrorCode, EndMessage, ServerMessage } from '../../common/wire/control.js';
import { encodeFrame } from '../../common/wire/header.js';
import { framesSent } from '../metrics.js';
import { Pacer } from '../pacer.js';
import type { AbortReason, Session, SessionTable } from './session-table.js';

const log = loggerFor('stream.streamer');

/** How often a session blocked on backpressure checks the socket again. */
const DRAIN_POLL_MS = 2;

export interface StreamerContext {
  table: SessionTable;
  /** Bytes waiting in a frame socket's send buffer above which the session waits. */
  highWaterBytes: number;
  send(socket: WebSocket | undefined, message: ServerMessage): void;
  reportError(
    socket: WebSocket | undefined,
    code: ControlErrorCode,
    message: string,
    sessionId?: string,
  ): void;
}

/** Waits while the frame socket's send buffer is above the high-water mark. False if the socket closed. */
async function drained(session: Session, socket: WebSocket, highWaterBytes: number): Promise<boolean> {
  while (socket.bufferedAmount > highWaterBytes) {
    if (socket.readyState !== WebSocket.OPEN || session.abort.signal.aborted) return false;
    await sleep(DRAIN_POLL_MS);
  }
  return socket.readyState === WebSocket.OPEN && !session.abort.signal.aborted;
}

export async function streamSession(
  context: StreamerContext,
  session: Session,
  socket: WebSocket,
): Promise<void> {
  const { table } = context;
  const signal = session.abort.signal;
  const started = performance.now();
  let pacer = session.fps > 0 ? new Pacer(session.fps, started) : undefined;
  let pacedFps = session.fps;
  // Aborted by a stop or by a `rate` message: one combined signal per rate change, not per frame.
  let epoch = session.rateChanged;
  let wake = signal;
  const finish = (): void => {
    session.durationMs = performance.now() - started;
    session.reanchors = pacer?.reanchors ?? 0;
  };
  let exhausted = false;
  try {
    const rate = (): number | undefined => session.rateOverride;
    for await (const frame of session.source.frames({
      count: session.count,
      signal,
      rate,
      fps: session.fps,
    })) {
      if (signal.aborted) break;
      // A `rate` message retimes the schedule from this frame on and cuts a wait for the old rate short.
      for (;;) {
        if (session.fps !== pacedFps) {
          pacedFps = session.fps;
          const now = performance.now();
          if (pacedFps === 0) pacer = undefined;
          else (pacer ??= new Pacer(pacedFps, now)).retime(pacedFps, session.sent, now);
        }
        if (!pacer) break;
        const delay = pacer.delayBefore(session.sent, performance.now());
        if (delay <= 0) break;
        if (session.rateChanged !== epoch) {
          epoch = session.rateChanged;
          wake = epoch ? AbortSignal.any([signal, epoch.signal]) : signal;
        }
        // A timer may fire up to a millisecond or two early (whole-millisecond clock): the loop checks the
        // schedule again after every sleep, so a frame never leaves before its slot.
        await sleep(delay, true, { signal: wake }).catch(() => false);
        if (signal.aborted) throw signal.reason;
      }
      if (!(await drained(session, socket, context.highWaterBytes))) break;
      const header = {
        seq: session.sent,
        width: frame.width,
        height: frame.height,
        channels: frame.channels,
        encoding: frame.encoding,
        sentAt: Date.now(),
      };
      socket.send(encodeFrame(header, frame.payload));
      if (session.labels) session.labels.push(frame.label ?? -1);
      session.sent++;
      framesSent.inc();
      if (socket.bufferedAmount > session.maxBufferedBytes) session.maxBufferedBytes = socket.bufferedAmount;
      if (session.count !== undefined && session.sent >= session.count) break;
    }
    exhausted = !signal.aborted && socket.readyState === WebSocket.OPEN;
  } catch (err) {
    if (!signal.aborted) {
      finish();
      session.failure = 'source-failed';
      table.setState(session, 'failed');
      context.reportError(
        session.control,
        'internal',
        `session ${session.id}: source failed after ${session.sent} frames (${errorMessage(err)})`,
        session.id,
      );
      if (socket.readyState === WebSocket.OPEN) socket.close(1011, 'source failed');
      return;
    }
  }
  if (exhausted && pacer && session.sent > 0) {
    // The session lasts `sent` whole frame periods: the last frame owns its slot too.
    let remaining: number;
    while (!signal.aborted && (remaining = pacer.targetOf(session.sent) - performance.now()) > 0)
      await sleep(remaining, undefined, { signal }).catch(() => undefined);
  }
  finish();
  const durationMs = Math.round(session.durationMs! * 10) / 10;
  const reason = signal.aborted ? (signal.reason as AbortReason) : undefined;
  if (exhausted && (!signal.aborted || reason === 'closed')) {
    table.setState(session, 'ended');
    const end: EndMessage = { type: 'end', sessionId: session.id, sent: session.sent, durationMs };
    context.send(session.control, end);
    log.info('session ended', { sessionId: session.id, sent: session.sent, durationMs });
    if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'end of stream');
  } else if (reason === 'closed' || (!signal.aborted && socket.readyState !== WebSocket.OPEN)) {
    // The receiver went away mid-stream (not a stop, not a shutdown).
    session.failure = 'frame-socket-closed';
    table.setState(session, 'failed');
    context.send(session.control, {
      type: 'end',
      sessionId: session.id,
      sent: session.sent,
      durationMs,
      reason: 'frame-socket-closed',
    });
    log.warn('frame socket closed mid-stream', { sessionId: session.id, sent: session.sent });
  }
  // 'stop' and 'shutdown' set the final state themselves.
}
