/**
 * The server's score of a submitted results document: the body of the `scored` control message
 * (docs/protocol.md). Computed by the server (src/stream/scoring.ts), read by the client's results stage.
 */
import type { SessionVerdict } from '../session/index.js';

export interface ClassScore {
  label: number;
  /** Of the frames predicted as `label`, the fraction truly `label`; null when none was predicted so. */
  precision: number | null;
  /** Of the scored frames truly `label`, the fraction predicted so; null when there were none. */
  recall: number | null;
  /** Scored frames whose true label is `label`. */
  support: number;
}

export interface ServerReconciliation {
  /** What the server sent in the session. */
  sent: number;
  /** What the client says the server sent (null when it never learned it). */
  clientSent: number | null;
  received: number;
  processed: number;
  droppedTotal: number;
  invalidTotal: number;
  /** Invalid messages naming no frame of the session (no readable seq, repeated, out of range). */
  unattributed: number;
  missing: number;
  /** Predictions for seqs the server never sent (ignored for scoring). */
  predictionsOutsideSession: number;
  /** Predictions naming a class the source does not have (scored as wrong). */
  predictedLabelsOutOfRange: number;
  checks: {
    clientSentMatches: boolean;
    receivedPlusMissingEqualsSent: boolean;
    receivedEqualsProcessedPlusDroppedPlusInvalid: boolean;
    predictionsWithinSession: boolean;
  };
  reconciled: boolean;
  /** The rule's one line on the client's counts with the server's `sent`. */
  explanation: string;
}

export interface Score {
  /** correct / predicted; null when nothing could be scored (no predictions, or an unlabelled source). */
  accuracy: number | null;
  labelled: boolean;
  sent: number;
  received: number;
  reconciled: boolean;
  correct: number;
  /** Predictions for frames the server sent (and knows the label of). */
  predicted: number;
  /** predicted / sent (0 when nothing was sent). */
  coverage: number;
  perClass: ClassScore[];
  /** confusion[true][predicted]. */
  confusion: number[][];
  /** True labels of the seqs in results.samples. */
  sampleLabels: Record<string, number>;
  serverReconciliation: ServerReconciliation;
  /** The session verdict from the server's side: its own `sent` and how the session ended there. */
  verdict: SessionVerdict;
}
