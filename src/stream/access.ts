/**
 * Who may do what on the stream server: the upgrade check of both WebSocket ports (Host, Origin, token:
 * src/common/http-guard.ts), a session's owner and secret, and the caps on sessions still waiting for
 * their frame socket (per connection and in total).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { VerifyClientCallbackAsync } from 'ws';
import { guardUpgrade, type AccessPolicy, type AccessVerdict } from '../common/http-guard.js';

/**
 * A `verifyClient` for a WebSocketServer: a refused upgrade is answered with its HTTP status and a JSON
 * body `{"error","code"}` (the connection never becomes a WebSocket); `onRefused` counts and logs it.
 */
export function upgradeVerifier(
  policy: AccessPolicy,
  onRefused: (verdict: Exclude<AccessVerdict, { ok: true }>, req: IncomingMessage) => void,
): VerifyClientCallbackAsync<IncomingMessage> {
  return (info, done) => {
    const verdict = guardUpgrade(info.req, policy);
    if (verdict.ok) return done(true);
    onRefused(verdict, info.req);
    done(false, verdict.status, JSON.stringify({ error: verdict.message, code: verdict.reason }), {
      'content-type': 'application/json',
    });
  };
}

/** A new session secret: 32 random bytes, hex. */
export function newSessionSecret(): string {
  return randomBytes(32).toString('hex');
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Constant-time comparison of a presented secret with the session's. */
export function secretMatches(presented: unknown, secret: string): boolean {
  return typeof presented === 'string' && timingSafeEqual(digest(presented), digest(secret));
}

/**
 * Sessions waiting for their frame socket, counted per control connection and in total, so that a flood
 * of `start`s that never connect is refused (`too-many-sessions`) instead of piling up. O(1) per change.
 */
export class PendingSessions<Connection extends object> {
  private total = 0;
  private readonly byConnection = new WeakMap<Connection, number>();

  constructor(
    readonly maxTotal: number,
    readonly maxPerConnection: number,
  ) {}

  /** Why a new pending session of `connection` is refused, or undefined when it may be added. */
  refusal(connection: Connection): string | undefined {
    const own = this.byConnection.get(connection) ?? 0;
    if (own >= this.maxPerConnection)
      return `this connection already has ${own} sessions waiting for their frame socket (at most ${this.maxPerConnection}): connect or stop them first`;
    if (this.total >= this.maxTotal)
      return `the server already holds ${this.total} sessions waiting for their frame socket (at most ${this.maxTotal}): try again later`;
    return undefined;
  }

  add(connection: Connection): void {
    this.total++;
    this.byConnection.set(connection, (this.byConnection.get(connection) ?? 0) + 1);
  }

  /** The session of `connection` left the waiting state (connected, stopped, expired, shut down). */
  remove(connection: Connection): void {
    this.total = Math.max(0, this.total - 1);
    this.byConnection.set(connection, Math.max(0, (this.byConnection.get(connection) ?? 1) - 1));
  }

  get size(): number {
    return this.total;
  }
}
