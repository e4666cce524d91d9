/**
 * The one reconcile rule and the session verdict, applied by the client to its own ledger (results.json,
 * the run log, the terminal summary) and by the server to a submitted document (`scored`).
 *
 * Reconciled means every frame the server said it sent is accounted for: it was processed, or dropped or
 * invalid with a typed reason, or it is reported missing by seq. From the counts alone:
 *
 *   received = processed + dropped + invalid                 (every message received has one outcome)
 *   sent     = (received − unattributed) + missing            (every seq in [0, sent) received or missing)
 *
 * where `unattributed` are the invalid messages that name no frame of the session (UNATTRIBUTED_REASONS:
 * no readable seq, a repeated seq, a seq out of range). Without a `sent` figure nothing can reconcile.
 *
 * The verdict is separate: a reconciled session is complete only when nothing is missing and the session
 * ended as it should (not cut short by a failure or by a stop before its announced count).
 */
import type { IncompleteReason, SessionVerdict } from '../wire/control.js';
import { UNATTRIBUTED_REASONS } from './reasons.js';

/** A session's frame counts: the results document's `counts` (reasons keyed by their stable codes). */
export interface SessionCounts {
  /** Frames the server says it sent (`end`/`stopped`); null when it never said. */
  sent: number | null;
  /** Frame messages received, valid or not. */
  received: number;
  processed: number;
  dropped: Record<string, number>;
  invalid: Record<string, number>;
  /** Seqs in [0, sent) never received. */
  missing: number;
}

export interface CountsReconciliation {
  reconciled: boolean;
  /** sent = (received − unattributed) + missing; null when `sent` is unknown. */
  sentEqualsReceivedPlusMissing: boolean | null;
  receivedEqualsProcessedPlusDroppedPlusInvalid: boolean;
  droppedTotal: number;
  invalidTotal: number;
  /** Invalid messages that name no frame of the session (see UNATTRIBUTED_REASONS). */
  unattributed: number;
  /** One line a person can read: why the session did or did not reconcile. */
  explanation: string;
}

export function total(byReason: Readonly<Record<string, number>>): number {
  let sum = 0;
  for (const n of Object.values(byReason)) sum += n;
  return sum;
}

export function unattributedOf(invalid: Readonly<Record<string, number>>): number {
  let sum = 0;
  for (const [reason, n] of Object.entries(invalid)) if (UNATTRIBUTED_REASONS.has(reason)) sum += n;
  return sum;
}

/** The reconcile rule (module comment), from the counts alone. */
export function reconcileCounts(counts: SessionCounts): CountsReconciliation {
  const { sent, received, processed, missing } = counts;
  const droppedTotal = total(counts.dropped);
  const invalidTotal = total(counts.invalid);
  const unattributed = unattributedOf(counts.invalid);
  const attributed = received - unattributed;
  const sentOk = sent === null ? null : sent === attributed + missing;
  const receivedOk = received === processed + droppedTotal + invalidTotal;
  const reconciled = sentOk === true && receivedOk;

  const problems: string[] = [];
  if (sentOk === null) problems.push('the server never reported how many frames it sent');
  else if (!sentOk) {
    problems.push(`sent ${sent} ≠ ${attributed} received with their own seq + ${missing} missing`);
  }
  if (!receivedOk) {
    problems.push(
      `received ${received} ≠ processed ${processed} + dropped ${droppedTotal} + invalid ${invalidTotal}`,
    );
  }
  const strays = unattributed > 0 ? ` (${unattributed} more named no frame of the session)` : '';
  const explanation = reconciled
    ? `every frame accounted for: sent ${sent} = received ${attributed}${strays} + missing ${missing}; received ${received} = processed ${processed} + dropped ${droppedTotal} + invalid ${invalidTotal}`
    : `not reconciled: ${problems.join('; ')}`;
  return {
    reconciled,
    sentEqualsReceivedPlusMissing: sentOk,
    receivedEqualsProcessedPlusDroppedPlusInvalid: receivedOk,
    droppedTotal,
    invalidTotal,
    unattributed,
    explanation,
  };
}

/** How a session ended, as either end saw it. */
export type SessionEnding =
  /** `end` without a reason: the source was streamed to its end (or its count). */
  | { kind: 'ended' }
  /** `end` with a failure reason (the server saw the frame socket close mid-stream). */
  | { kind: 'ended-early'; reason: 'frame-socket-closed' }
  /** `stop` (Ctrl-C): early when the session announced a count that was not reached. */
  | { kind: 'stopped'; count?: number }
  /** The client lost the session: its control connection closed, or the frame socket without an `end`. */
  | { kind: 'lost'; reason: 'control-closed' | 'no-end' }
  /** The server's source failed mid-stream. */
  | { kind: 'failed' };

// The verdict travels in `scored`, so its shape is the wire's (one definition, published in schemas/).
export type { IncompleteReason, SessionVerdict } from '../wire/control.js';

const REASON_TEXT: Record<IncompleteReason, string> = {
  'not-reconciled': 'the frame counts do not reconcile',
  'frames-missing': 'frames were sent but never received',
  stopped: 'the session was stopped before its announced count',
  'frame-socket-closed': 'the frame socket closed mid-stream',
  'control-closed': 'the control connection closed mid-session',
  'no-end': 'the frame socket closed without an "end" message',
  'source-failed': "the server's source failed mid-stream",
};

export function judgeSession(input: {
  reconciled: boolean;
  missing: number;
  sent: number | null;
  ending: SessionEnding;
}): SessionVerdict {
  const reasons: IncompleteReason[] = [];
  const { ending } = input;
  if (ending.kind === 'ended-early' || ending.kind === 'lost') reasons.push(ending.reason);
  if (ending.kind === 'failed') reasons.push('source-failed');
  if (ending.kind === 'stopped' && ending.count !== undefined && (input.sent ?? 0) < ending.count) {
    reasons.push('stopped');
  }
  if (!input.reconciled) reasons.push('not-reconciled');
  if (input.missing > 0) reasons.push('frames-missing');
  const complete = reasons.length === 0;
  return {
    complete,
    reasons,
    explanation: complete
      ? 'complete'
      : `incomplete: ${reasons.map((r) => `${REASON_TEXT[r]} (${r})`).join('; ')}`,
  };
}
