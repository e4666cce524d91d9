/**
 * What a session is made of, shared by both ends: the ledger of every frame (client), the one reconcile
 * rule and the session verdict (client and server), the typed drop/invalid reasons.
 */
export {
  SessionLedger,
  type LedgerObserver,
  type LedgerOptions,
  type Reconciliation,
  type SessionJudgement,
} from './ledger.js';
export {
  reconcileCounts,
  judgeSession,
  total,
  unattributedOf,
  type CountsReconciliation,
  type IncompleteReason,
  type SessionCounts,
  type SessionEnding,
  type SessionVerdict,
} from './rule.js';
export {
  DROP_REASONS,
  INVALID_REASONS,
  UNATTRIBUTED_REASONS,
  type BusDropReason,
  type DropReason,
  type InvalidReason,
} from './reasons.js';
export { SeqOutcomes, rangesSize } from './seq-outcomes.js';
export { formatRanges } from './ranges.js';
