/**
 * The client's side of one session: the control connection (start, stop, end) and the frame socket's
 * life, ending in how the session ended and the `sent` figure the server gave. Failures of the session
 * itself (the control connection lost, the frame socket closed without an `end`) are outcomes, not
 * exceptions, so what was received is still written; only failing to start throws.
 */
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import type { SessionEnding } from '../common/session/index.js';
import type { SessionMessage } from '../common/wire/control.js';
import { ControlClient } from './control-client.js';
import type { FrameListener } from './frame-listener.js';

const log = loggerFor('processing.session');

/** After a stop, how long the frame socket may take to close before it is cut. */
const STOP_CLOSE_MS = 2000;
/** After the frame socket closes normally (1000), how long `end` may take to arrive. */
const END_AFTER_CLOSE_MS = 5000;
/** After an abnormal close, how long an `end` may still take. */
const END_AFTER_ABNORMAL_MS = 500;

export interface SessionFinish {
  /** Frames the server says it sent (`end`/`stopped`); null when it never said. */
  sent: number | null;
  ending: SessionEnding;
  stoppedByUser: boolean;
  /** One line when the session failed (the run reports it and exits non-zero). */
  failure?: string;
}

export interface StartRequest {
  count?: number;
  fps?: number;
  source?: string;
}

export class ClientSession {
  private constructor(
    readonly control: ControlClient,
    readonly session: SessionMessage,
    private readonly token?: string,
  ) {}

  /**
   * Connects the control socket and starts a session; throws a UserError when either fails. `token` is
   * the server's `--token`, sent on both sockets.
   */
  static async start(controlUrl: string, request: StartRequest, token?: string): Promise<ClientSession> {
    const control = await ControlClient.connect(controlUrl, token ? { token } : {});
    try {
      const session = await control.start(request);
      log.info('session started', {
        sessionId: session.sessionId,
        count: session.count,
        fps: session.fps,
        source: session.source,
      });
      return new ClientSession(control, session, token);
    } catch (err) {
      control.close();
      throw err;
    }
  }

  get sessionId(): string {
    return this.session.sessionId;
  }

  /**
   * Connects `listener` to the session's frame socket and waits until the session is over: the stream
   * ended (`end`), the user stopped it (`signal`), or it was lost.
   */
  async stream(listener: FrameListener, signal?: AbortSignal): Promise<SessionFinish> {
    const { control, sessionId } = this;
    let stopRequested!: () => void;
    const stopping = new Promise<'stop'>((resolve) => (stopRequested = () => resolve('stop')));
    const onAbort = (): void => stopRequested();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) stopRequested();
    try {
      await listener.connect(this.session.framesUrl, undefined, this.token);
      const controlClosed = new Promise<'control-closed'>((resolve) =>
        control.once('close', () => resolve('control-closed')),
      );
      const first = await Promise.race([listener.closed, controlClosed, stopping]);
      if (first === 'stop') return await this.stop(listener);
      if (first === 'control-closed') {
        listener.terminate();
        return this.lost('control-closed', 'the control connection closed mid-session');
      }
      // A normal close (1000) comes with `end` on the control socket, possibly a moment later; any other
      // close code means the server gave up on the session.
      const end = await Promise.race([
        control.waitForEnd(),
        delay(first.code === 1000 ? END_AFTER_CLOSE_MS : END_AFTER_ABNORMAL_MS).then(() => null),
      ]);
      if (!end) {
        return this.lost(
          'no-end',
          `the frame socket closed (code ${first.code}${first.reason ? `, ${first.reason}` : ''}) without an "end" message`,
          first.code,
        );
      }
      if (end.reason) {
        return {
          sent: end.sent,
          ending: { kind: 'ended-early', reason: end.reason },
          stoppedByUser: false,
          failure: `session ${sessionId} ended early: ${end.reason}`,
        };
      }
      return { sent: end.sent, ending: { kind: 'ended' }, stoppedByUser: false };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ctrl-C: ask the server to stop, take what the socket still delivers, give up what is held back. */
  private async stop(listener: FrameListener): Promise<SessionFinish> {
    const { sessionId } = this;
    log.warn('stopping the session', { sessionId });
    const stopped = this.control.stop(sessionId).then(
      (m) => m.sent,
      (err: unknown) => {
        log.warn('stop not confirmed', { sessionId, error: errorMessage(err) });
        return null;
      },
    );
    const closed = await Promise.race([listener.closed, delay(STOP_CLOSE_MS).then(() => null)]);
    if (closed === null) listener.terminate();
    listener.discardBacklog('stopped');
    const sent = await stopped;
    return {
      sent,
      ending: { kind: 'stopped', ...(this.session.count !== undefined ? { count: this.session.count } : {}) },
      stoppedByUser: true,
    };
  }

  private lost(reason: 'control-closed' | 'no-end', what: string, code?: number): SessionFinish {
    log.warn('session lost', { sessionId: this.sessionId, reason, code });
    // The server may have sent `end` before the connection went: its figure still counts.
    const sent = this.control.endMessage?.sent ?? null;
    return {
      sent,
      ending: { kind: 'lost', reason },
      stoppedByUser: false,
      failure: `session ${this.sessionId} failed: ${what}`,
    };
  }

  close(): void {
    this.control.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
