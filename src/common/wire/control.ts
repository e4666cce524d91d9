/**
 * Control messages on port 7000 (docs/design.md, "Wire protocol"): JSON text, each with a `type`.
 * Schemas validate what arrives at either end; fields may be added, never renamed.
 */
import { z } from 'zod';
import type { Score } from './score.js';

// ---- client → server ----

export const startRequestSchema = z.object({
  type: z.literal('start'),
  /** Omitted for an endless source (camera). */
  count: z.number().int().positive().optional(),
  /** 0 = as fast as the receiver drains. */
  fps: z.number().min(0).max(100_000).optional(),
  source: z.string().min(1).max(4096).optional(),
});

/** Session ids are UUIDs; anything far longer is refused before it is looked up, echoed or logged. */
export const MAX_SESSION_ID_LENGTH = 128;
const sessionIdSchema = z.string().min(1).max(MAX_SESSION_ID_LENGTH);

/** The session's secret (from `session`): lets a reconnecting owner act on its session. */
const secretSchema = z.string().max(256).optional();

export const stopRequestSchema = z.object({
  type: z.literal('stop'),
  sessionId: sessionIdSchema,
  secret: secretSchema,
});
export const statusRequestSchema = z.object({ type: z.literal('status') });
export const submitRequestSchema = z.object({
  type: z.literal('submit'),
  sessionId: sessionIdSchema,
  secret: secretSchema,
  /** The results document (schemas/results.schema.json); validated by the server. */
  results: z.record(z.unknown()),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  startRequestSchema,
  stopRequestSchema,
  statusRequestSchema,
  submitRequestSchema,
]);

export type StartRequest = z.infer<typeof startRequestSchema>;
export type StopRequest = z.infer<typeof stopRequestSchema>;
export type StatusRequest = z.infer<typeof statusRequestSchema>;
export type SubmitRequest = z.infer<typeof submitRequestSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export const CLIENT_MESSAGE_TYPES = ['start', 'stop', 'status', 'submit'] as const;

// ---- server → client ----

export interface SessionMessage {
  type: 'session';
  sessionId: string;
  count?: number;
  fps: number;
  width?: number;
  height?: number;
  channels?: number;
  framesUrl: string;
  source: string;
  /**
   * The session's secret: a reconnecting owner sends it with `stop`/`submit` to act on the session from
   * another control connection. Absent from older servers.
   */
  secret?: string;
}

export interface EndMessage {
  type: 'end';
  sessionId: string;
  sent: number;
  /** The session's own measured duration, ms: first frame to the end of the last frame's period. */
  durationMs?: number;
  /** Set when the stream ended early because the receiver closed its frame socket. */
  reason?: 'frame-socket-closed';
}

export interface StoppedMessage {
  type: 'stopped';
  sessionId: string;
  sent: number;
}

export type SessionState = 'waiting' | 'streaming' | 'ended' | 'stopped' | 'expired' | 'failed';

export interface SessionStatus {
  sessionId: string;
  state: SessionState;
  sent: number;
  count?: number;
  source: string;
}

export interface StatusMessage {
  type: 'status';
  sessions: SessionStatus[];
  /** Names of the sources a client may ask for in `start`. */
  sources: string[];
}

/** The server's score (./score.ts); fields may be added, so a reader keeps unknown ones. */
export type ScoredMessage = { type: 'scored'; sessionId: string } & Score & { [extra: string]: unknown };

/** Stable error codes: clients and tests match on these, never on the message text. */
export const CONTROL_ERROR_CODES = [
  'bad-json',
  'bad-message',
  'unknown-type',
  'unknown-session',
  'unknown-source',
  'binary-on-control',
  'text-on-frames',
  'duplicate-frame-socket',
  'session-expired',
  'invalid-results',
  'too-large',
  'not-ready',
  'internal',
  /** The session belongs to another control connection (stop, submit; or a frame socket without its secret). */
  'not-owner',
  /** Too many sessions waiting for their frame socket (per connection or in total). */
  'too-many-sessions',
  /** The session already has the most submissions a session may have. */
  'too-many-submissions',
] as const;

export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

export interface ErrorMessage {
  type: 'error';
  code: ControlErrorCode;
  message: string;
  sessionId?: string;
}

export type ServerMessage =
  | SessionMessage
  | EndMessage
  | StoppedMessage
  | StatusMessage
  | ScoredMessage
  | ErrorMessage;
