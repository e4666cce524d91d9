/**
 * The server's score of a submitted results document: the body of the `scored` control message
 * (docs/protocol.md), defined once by the wire schemas in ./control.ts. Computed by the server
 * (src/stream/scoring.ts), read by the client's results stage.
 */
import type { ClassScore, ScoredMessage, ServerReconciliation, SessionVerdict } from './control.js';

/** The score is the `scored` message without its envelope. */
export type Score = Omit<ScoredMessage, 'type' | 'sessionId' | 'submission'> & {
  serverReconciliation: ServerReconciliation & { explanation: string };
  verdict: SessionVerdict;
};
export type { ClassScore, ServerReconciliation };
