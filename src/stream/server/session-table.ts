/**
 * The server's sessions: their state, the expiry of a session whose frame socket never connects, the
 * retention of finished sessions (oldest forgotten first, in O(1) per session) and their status.
 */
import type { WebSocket } from 'ws';
import type { SessionEnding } from '../../common/session/index.js';
import type { SessionState, SessionStatus } from '../../common/wire/control.js';
import { PendingSessions, secretMatches } from '../access.js';
import { sessionsByState, sessionsExpired } from '../metrics.js';
import type { FrameSource } from '../sources/source.js';

/** Why a session's streaming was aborted: a `stop`, a server shutdown, or the receiver closing its socket. */
export type AbortReason = 'stop' | 'shutdown' | 'closed';

export interface Session {
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
  expiry?: NodeJS.Timeout;
  streaming?: Promise<void>;
  durationMs?: number;
  maxBufferedBytes: number;
  reanchors: number;
  submissions: number;
  /** Why a failed session failed. */
  failure?: 'frame-socket-closed' | 'source-failed';
  /** Returned in `session`; lets a reconnecting owner claim the session from another connection. */
  secret: string;
  /** The connection whose waiting sessions this one counts against (the one that started it). */
  startedBy?: WebSocket;
}

/**
 * Whether `connection` may act on `session`: it owns it, or it presents the session's secret (and then
 * becomes its owner: later notices go to it).
 */
export function claim(session: Session, connection: WebSocket, secret: unknown): boolean {
  if (session.control === connection) return true;
  if (!secretMatches(secret, session.secret)) return false;
  session.control = connection;
  return true;
}

export const FINISHED: readonly SessionState[] = ['ended', 'stopped', 'expired', 'failed'];

export function isFinished(session: Session): boolean {
  return FINISHED.includes(session.state);
}

export function isLive(session: Session): boolean {
  return session.state === 'waiting' || session.state === 'streaming';
}

/** How a finished session ended, for the verdict in `scored`. */
export function endingOf(session: Session): SessionEnding {
  if (session.state === 'stopped') {
    return { kind: 'stopped', ...(session.count !== undefined ? { count: session.count } : {}) };
  }
  if (session.state === 'failed') {
    return session.failure === 'frame-socket-closed'
      ? { kind: 'ended-early', reason: 'frame-socket-closed' }
      : { kind: 'failed' };
  }
  if (session.state === 'expired') return { kind: 'lost', reason: 'no-end' };
  return { kind: 'ended' };
}

export function statusOf(session: Session): SessionStatus {
  return {
    sessionId: session.id,
    state: session.state,
    sent: session.sent,
    ...(session.count !== undefined ? { count: session.count } : {}),
    source: session.sourceName,
  };
}

export interface SessionTableOptions {
  /** A session whose frame socket has not connected within this time expires. */
  timeoutMs: number;
  /** Finished sessions kept for status and late submissions. */
  maxFinished: number;
  /** Called when a waiting session expires (the server reports it to the client). */
  onExpired: (session: Session) => void;
  /** Sessions waiting for their frame socket: at most this many in total … */
  maxPending: number;
  /** … and this many per control connection. */
  maxPendingPerConnection: number;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  /** Finished sessions in the order they finished: the first is the next to forget. */
  private readonly finished = new Set<string>();

  private readonly pending: PendingSessions<WebSocket>;

  constructor(private readonly options: SessionTableOptions) {
    this.pending = new PendingSessions(options.maxPending, options.maxPendingPerConnection);
  }

  /** Why `connection` may not start another session now (too many waiting), or undefined. */
  pendingRefusal(connection: WebSocket): string | undefined {
    return this.pending.refusal(connection);
  }

  /** The sessions `connection` owns, for its `status`. */
  *ownedBy(connection: WebSocket): IterableIterator<Session> {
    for (const session of this.sessions.values()) if (session.control === connection) yield session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Adds a waiting session and arms its expiry. */
  add(session: Session): void {
    this.sessions.set(session.id, session);
    sessionsByState.inc({ state: session.state });
    if (session.startedBy) this.pending.add(session.startedBy);
    session.expiry = setTimeout(() => this.expire(session), this.options.timeoutMs);
  }

  /** The frame socket connected: no expiry any more. */
  connected(session: Session): void {
    clearTimeout(session.expiry);
  }

  setState(session: Session, state: SessionState): void {
    if (session.state === 'waiting' && state !== 'waiting' && session.startedBy) {
      this.pending.remove(session.startedBy);
      session.startedBy = undefined;
    }
    sessionsByState.dec({ state: session.state });
    sessionsByState.inc({ state });
    session.state = state;
    clearTimeout(session.expiry);
    if (isFinished(session)) {
      this.finished.add(session.id);
      this.prune();
    }
  }

  private expire(session: Session): void {
    if (session.state !== 'waiting') return;
    this.setState(session, 'expired');
    sessionsExpired.inc();
    this.options.onExpired(session);
  }

  /** Forgets the oldest finished sessions beyond the retention limit. */
  private prune(): void {
    for (const id of this.finished) {
      if (this.finished.size <= this.options.maxFinished) break;
      this.finished.delete(id);
      const session = this.sessions.get(id);
      if (!session) continue;
      this.sessions.delete(id);
      sessionsByState.dec({ state: session.state });
    }
  }

  /** Forgets every session (server shutdown). */
  clear(): void {
    for (const session of this.sessions.values()) {
      clearTimeout(session.expiry);
      sessionsByState.dec({ state: session.state });
      if (session.state === 'waiting' && session.startedBy) this.pending.remove(session.startedBy);
    }
    this.sessions.clear();
    this.finished.clear();
  }
}
