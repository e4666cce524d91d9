/**
 * Control messages on port 7000 (docs/protocol.md): JSON text, each with a `type`.
 *
 * These zod schemas are the one source of truth for both directions: the server validates what clients
 * send with them, the TypeScript types below are inferred from them, and `npm run schemas` turns them into
 * the published JSON Schemas (schemas/control-*.schema.json) that clients in other languages build from.
 * Fields may be added, never renamed or removed. Unknown fields are accepted (and ignored) both ways.
 */
import { z } from 'zod/v4';

/**
 * Announced in `session` and `status`. Bumped only by a change an existing client could misread: a field
 * or message whose meaning, type or unit changes, or a new rule a client must follow to keep working.
 * Adding optional fields, message types, error codes or sources does not bump it.
 */
export const PROTOCOL_VERSION = 1;

/** Session ids are UUIDs; anything far longer is refused before it is looked up, echoed or logged. */
export const MAX_SESSION_ID_LENGTH = 128;
const sessionId = z
  .string()
  .min(1)
  .max(MAX_SESSION_ID_LENGTH)
  .describe('The id the server returned in `session`.');
const secret = z
  .string()
  .max(256)
  .optional()
  .describe(
    "The session's secret from `session`: lets its owner act on it from another control connection (after a reconnect).",
  );
const frameCount = z.number().int().min(0);

// ---- client → server ----

export const startRequestSchema = z
  .object({
    type: z.literal('start'),
    count: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'Frames to send. Omitted: the whole source (its size is reported in `session.count`), or forever for an endless source (camera). More than the source holds is `bad-message`.',
      ),
    fps: z
      .number()
      .min(0)
      .max(100_000)
      .optional()
      .describe('Frame rate, default 10; 0 = as fast as the receiver drains (backpressure, no loss).'),
    source: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("One of the names `status` lists in `sources`; omitted = the server's default source."),
  })
  .meta({ id: 'start', description: 'Starts a session; answered by `session` (or `error`).' });

export const stopRequestSchema = z.object({ type: z.literal('stop'), sessionId, secret }).meta({
  id: 'stop',
  description: 'Ends a waiting or streaming session early; answered by `stopped` (or `error`).',
});

export const statusRequestSchema = z
  .object({ type: z.literal('status') })
  .meta({ id: 'status-request', description: 'Asks for the sessions and sources; answered by `status`.' });

export const submitRequestSchema = z
  .object({
    type: z.literal('submit'),
    sessionId,
    secret,
    // Any JSON here gets past the envelope check: what is not a valid results document (42, [], {}) is
    // `invalid-results`, only a missing `results` is `bad-message`.
    results: z
      .unknown()
      .refine((value) => value !== undefined, 'Required')
      .describe(
        'The results document (results.schema.json). Present but not a valid document (including not an object) is `invalid-results`.',
      ),
  })
  .meta({
    id: 'submit',
    description: 'Submits a results document for a finished session; answered by `scored` (or `error`).',
  });

export const clientMessageSchema = z
  .discriminatedUnion('type', [
    startRequestSchema,
    stopRequestSchema,
    statusRequestSchema,
    submitRequestSchema,
  ])
  .meta({ description: 'Any message a client sends on the control socket.' });

export type StartRequest = z.infer<typeof startRequestSchema>;
export type StopRequest = z.infer<typeof stopRequestSchema>;
export type StatusRequest = z.infer<typeof statusRequestSchema>;
export type SubmitRequest = z.infer<typeof submitRequestSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export const CLIENT_MESSAGE_TYPES = ['start', 'stop', 'status', 'submit'] as const;

// ---- server → client ----

const protocolVersion = z
  .number()
  .int()
  .positive()
  .optional()
  .describe(
    'The protocol version the server speaks (docs/protocol.md says what bumps it). Absent from servers older than the field: treat as 1.',
  );

export const sessionMessageSchema = z
  .object({
    type: z.literal('session'),
    sessionId: z.string().min(1).describe('Names the session in every later message.'),
    count: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'Frames the session will send: the `count` asked for, or the whole source when none was; absent for an endless source.',
      ),
    fps: z.number().min(0).describe('The frame rate in force (the default, 10, when `start` named none).'),
    width: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Frame width; absent when unknown up front.'),
    height: z.number().int().min(1).max(65535).optional(),
    channels: z.literal([1, 3]).optional().describe('1 gray, 3 RGB.'),
    framesUrl: z
      .string()
      .min(1)
      .describe(
        'Where to open the frame socket: ws://HOST:PORT/?session=<sessionId>. Streaming begins when it connects.',
      ),
    source: z.string().min(1).describe('The source this session streams.'),
    protocolVersion,
    secret: z
      .string()
      .optional()
      .describe(
        'Sent with `stop`/`submit` to act on the session from another control connection (e.g. after a reconnect); keep it private. Absent from older servers.',
      ),
  })
  .meta({ id: 'session', description: 'Answer to `start`: the new session, in state `waiting`.' });

export const END_REASONS = ['frame-socket-closed'] as const;

export const endMessageSchema = z
  .object({
    type: z.literal('end'),
    sessionId: z.string().min(1),
    sent: frameCount.describe('Frames the server sent in the session (seq 0 … sent-1).'),
    durationMs: z
      .number()
      .min(0)
      .optional()
      .describe(
        "The session's own measured duration, ms: first frame to the end of the last frame's period.",
      ),
    reason: z
      .enum(END_REASONS)
      .optional()
      .describe(
        'Set when the stream ended early because the receiver closed its frame socket (state `failed`).',
      ),
  })
  .meta({
    id: 'end',
    description:
      'The session sent its last frame (or its receiver went away). Arrives on the control socket, possibly before the last frame is read from the frame socket: all frames are in when the frame socket closes with 1000.',
  });

export const stoppedMessageSchema = z
  .object({
    type: z.literal('stopped'),
    sessionId: z.string().min(1),
    sent: frameCount.describe('Frames sent before the stop took effect (final).'),
  })
  .meta({ id: 'stopped', description: 'Answer to `stop`.' });

export const SESSION_STATES = ['waiting', 'streaming', 'ended', 'stopped', 'expired', 'failed'] as const;
export const sessionStateSchema = z
  .enum(SESSION_STATES)
  .describe(
    'waiting: frame socket not connected yet; streaming; ended: every frame sent; stopped: by `stop` or server shutdown; expired: the frame socket never connected; failed: the receiver left early or the source failed.',
  );

export const sessionStatusSchema = z.object({
  sessionId: z.string().min(1),
  state: sessionStateSchema,
  sent: frameCount,
  count: z.number().int().min(0).optional(),
  source: z.string().min(1),
});

export const statusMessageSchema = z
  .object({
    type: z.literal('status'),
    sessions: z.array(sessionStatusSchema),
    sources: z.array(z.string().min(1)).describe('Names a client may ask for in `start`, the default first.'),
    protocolVersion,
  })
  .meta({ id: 'status', description: 'Answer to a `status` request.' });

export const classScoreSchema = z.object({
  label: z.number().int().min(0),
  precision: z
    .number()
    .min(0)
    .max(1)
    .nullable()
    .describe('Of the scored frames predicted as `label`, the fraction truly `label`; null when none was.'),
  recall: z
    .number()
    .min(0)
    .max(1)
    .nullable()
    .describe('Of the scored frames truly `label`, the fraction predicted so; null when there were none.'),
  support: frameCount.describe(
    'Scored frames whose true label is `label` (out-of-range predictions excluded).',
  ),
});

export const serverReconciliationSchema = z.object({
  sent: frameCount.describe('What the server sent in the session.'),
  clientSent: z.number().int().min(0).nullable().describe("The document's counts.sent."),
  received: frameCount,
  processed: frameCount,
  droppedTotal: frameCount.describe('Sum of counts.dropped.'),
  invalidTotal: frameCount.describe('Sum of counts.invalid.'),
  unattributed: frameCount.describe(
    'Invalid messages that name no frame of the session: the counts.invalid entries short-message, bad-magic, text-message, duplicate-seq and seq-out-of-range.',
  ),
  missing: frameCount,
  predictionsOutsideSession: frameCount.describe('Predictions for seqs the server never sent (not scored).'),
  predictedLabelsOutOfRange: frameCount.describe(
    "Scored predictions naming a class outside the source's classes (wrong, and not in `confusion`).",
  ),
  checks: z.object({
    clientSentMatches: z.boolean().describe('counts.sent equals sent (null does not).'),
    receivedPlusMissingEqualsSent: z
      .boolean()
      .describe('(counts.received - unattributed) + counts.missing = sent.'),
    receivedEqualsProcessedPlusDroppedPlusInvalid: z.boolean(),
    predictionsWithinSession: z.boolean().describe('No prediction for a seq >= sent.'),
  }),
  reconciled: z.boolean().describe('Every check holds.'),
  explanation: z.string().optional().describe('One line for people: why the counts do or do not reconcile.'),
});

/** Why a session is not complete: stable codes. */
export const INCOMPLETE_REASONS = [
  'not-reconciled',
  'frames-missing',
  'stopped',
  'frame-socket-closed',
  'control-closed',
  'no-end',
  'source-failed',
] as const;

export const sessionVerdictSchema = z
  .object({
    complete: z.boolean().describe('Reconciled, nothing missing, and the session ended as it should.'),
    reasons: z.array(z.enum(INCOMPLETE_REASONS)).describe('Why not complete; empty when complete.'),
    explanation: z.string().describe('"complete", or "incomplete: …" for people.'),
  })
  .describe(
    "The session's verdict: complete only when the counts reconcile, nothing is missing and the session was not cut short (a failure, or a stop before its count).",
  );

export const scoredMessageSchema = z
  .object({
    type: z.literal('scored'),
    sessionId: z.string().min(1),
    submission: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('1 for the first accepted submission of the session, 2 for the next, …'),
    accuracy: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe(
        'correct / predicted; null when nothing could be scored (no predictions, or an unlabelled source).',
      ),
    labelled: z.boolean().describe('Whether the source has labels (an image folder or a camera has none).'),
    sent: frameCount,
    received: frameCount.describe("The document's counts.received."),
    reconciled: z.boolean().describe('= serverReconciliation.reconciled.'),
    correct: frameCount,
    predicted: frameCount.describe('Predictions for seqs the server sent, on a labelled source.'),
    coverage: z.number().min(0).max(1).describe('predicted / sent; 0 (not null) when sent is 0.'),
    perClass: z.array(classScoreSchema).describe('One entry per class of the source, by label.'),
    confusion: z
      .array(z.array(frameCount))
      .describe(
        'confusion[true][predicted], square, at least 10×10. Out-of-range predictions are left out, so it may sum to less than `predicted`.',
      ),
    sampleLabels: z
      .record(z.string().regex(/^(0|[1-9][0-9]*)$/), z.number().int().min(0))
      .describe(
        'True label of each results.samples[].seq the server sent, keyed by the seq as a decimal string.',
      ),
    serverReconciliation: serverReconciliationSchema,
    verdict: sessionVerdictSchema.optional(),
  })
  .meta({
    id: 'scored',
    description: 'Answer to `submit`: the score of the accepted, persisted submission.',
  });

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

export const controlErrorCodeSchema = z
  .enum(CONTROL_ERROR_CODES)
  .describe(
    'Stable: match on this, never on `message`. New codes may be added (treat an unknown one as an error).',
  );

export const errorMessageSchema = z
  .object({
    type: z.literal('error'),
    code: controlErrorCodeSchema,
    message: z.string().describe('One line for people: names the input and what was expected.'),
    sessionId: z.string().optional().describe('The session concerned, when there is one.'),
  })
  .meta({
    id: 'error',
    description:
      'A refused request or a session failure. On the control socket, or as a text message on a frame socket (which the server then closes, with the code as the close reason, unless the code is text-on-frames).',
  });

export const serverMessageSchema = z
  .discriminatedUnion('type', [
    sessionMessageSchema,
    endMessageSchema,
    stoppedMessageSchema,
    statusMessageSchema,
    scoredMessageSchema,
    errorMessageSchema,
  ])
  .meta({ description: 'Any message the server sends (control socket; `error` also on a frame socket).' });

export type SessionMessage = z.infer<typeof sessionMessageSchema>;
export type EndMessage = z.infer<typeof endMessageSchema>;
export type StoppedMessage = z.infer<typeof stoppedMessageSchema>;
export type SessionState = z.infer<typeof sessionStateSchema>;
export type SessionStatus = z.infer<typeof sessionStatusSchema>;
export type StatusMessage = z.infer<typeof statusMessageSchema>;
export type ClassScore = z.infer<typeof classScoreSchema>;
export type ServerReconciliation = z.infer<typeof serverReconciliationSchema>;
export type IncompleteReason = (typeof INCOMPLETE_REASONS)[number];
export type SessionVerdict = z.infer<typeof sessionVerdictSchema>;
export type ScoredMessage = z.infer<typeof scoredMessageSchema>;
export type ControlErrorCode = z.infer<typeof controlErrorCodeSchema>;
export type ErrorMessage = z.infer<typeof errorMessageSchema>;
export type ServerMessage = z.infer<typeof serverMessageSchema>;
