/**
 * Control messages on port 7000 (DESIGN.md, "Wire protocol"): JSON text, each with a `type`.
 * Schemas validate what arrives at either end; fields may be added, never renamed.
 */
import { z } from 'zod';

// ---- client → server ----

export const startRequestSchema = z.object({
  type: z.literal('start'),
  /** Omitted for an endless source (camera). */
  count: z.number().int().positive().optional(),
  /** 0 = as fast as the receiver drains. */
  fps: z.number().min(0).max(100_000).optional(),
  source: z.string().min(1).max(4096).optional(),
});

export const stopRequestSchema = z.object({ type: z.literal('stop'), sessionId: z.string().min(1) });
export const statusRequestSchema = z.object({ type: z.literal('status') });
export const submitRequestSchema = z.object({
  type: z.literal('submit'),
  sessionId: z.string().min(1),
  /** The results document (schemas/results.schema.json); validated by the server. */
  results: z.record(z.unknown()),
});

/** Changes a running session's frame rate live (the app's images-per-second control). */
export const rateRequestSchema = z.object({
  type: z.literal('rate'),
  sessionId: z.string().min(1),
  /** New frame rate; 0 = as fast as the receiver drains. */
  fps: z.number().min(0).max(100_000),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  startRequestSchema,
  stopRequestSchema,
  statusRequestSchema,
  submitRequestSchema,
  rateRequestSchema,
]);

export type StartRequest = z.infer<typeof startRequestSchema>;
export type StopRequest = z.infer<typeof stopRequestSchema>;
export type StatusRequest = z.infer<typeof statusRequestSchema>;
export type SubmitRequest = z.infer<typeof submitRequestSchema>;
export type RateRequest = z.infer<typeof rateRequestSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export const CLIENT_MESSAGE_TYPES = ['start', 'stop', 'status', 'submit', 'rate'] as const;

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

/** Acknowledges `rate`: the session now streams at `fps` (from its next frame). */
export interface RateMessage {
  type: 'rate';
  sessionId: string;
  fps: number;
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

export interface ScoredMessage {
  type: 'scored';
  sessionId: string;
  /** correct / predicted; null when nothing could be scored (no predictions, or an unlabelled source). */
  accuracy: number | null;
  sent: number;
  received: number;
  reconciled: boolean;
  [extra: string]: unknown;
}

/** Stable error codes: clients and tests match on these, never on the message text. */
export type ControlErrorCode =
  | 'bad-json'
  | 'bad-message'
  | 'unknown-type'
  | 'unknown-session'
  | 'unknown-source'
  | 'binary-on-control'
  | 'text-on-frames'
  | 'duplicate-frame-socket'
  | 'session-expired'
  | 'invalid-results'
  | 'too-large'
  | 'not-ready'
  | 'internal';

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
  | RateMessage
  | ErrorMessage;
