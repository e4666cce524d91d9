/** The server's `scored` reply, read defensively: the results stage only trusts what it checks. */
import type { ScoredMessage } from '../common/wire/control.js';
import type { ClassScore } from '../common/wire/score.js';

export type { ClassScore };

/** A `scored` reply as far as it could be trusted: the score's fields, null where one was missing or bad. */
export interface ScoreReport {
  sessionId: string;
  accuracy: number | null;
  sent: number | null;
  received: number | null;
  reconciled: boolean | null;
  correct: number | null;
  predicted: number | null;
  coverage: number | null;
  perClass: ClassScore[];
  confusion: number[][] | null;
  /** seq → true label, for the samples. */
  sampleLabels: Map<number, number>;
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

export function readScore(scored: ScoredMessage | Record<string, unknown>): ScoreReport {
  const raw = scored as Record<string, unknown>;
  const perClass = Array.isArray(raw.perClass)
    ? raw.perClass.flatMap((entry): ClassScore[] => {
        if (!entry || typeof entry !== 'object') return [];
        const e = entry as Record<string, unknown>;
        const label = num(e.label);
        if (label === null) return [];
        return [{ label, precision: num(e.precision), recall: num(e.recall), support: num(e.support) ?? 0 }];
      })
    : [];
  const confusion =
    Array.isArray(raw.confusion) &&
    raw.confusion.every((row) => Array.isArray(row) && row.every((v) => typeof v === 'number'))
      ? (raw.confusion as number[][])
      : null;
  const sampleLabels = new Map<number, number>();
  if (raw.sampleLabels && typeof raw.sampleLabels === 'object') {
    for (const [seq, label] of Object.entries(raw.sampleLabels as Record<string, unknown>)) {
      if (/^\d+$/.test(seq) && num(label) !== null) sampleLabels.set(Number(seq), label as number);
    }
  }
  return {
    sessionId: typeof raw.sessionId === 'string' ? raw.sessionId : '',
    accuracy: num(raw.accuracy),
    sent: num(raw.sent),
    received: num(raw.received),
    reconciled: typeof raw.reconciled === 'boolean' ? raw.reconciled : null,
    correct: num(raw.correct),
    predicted: num(raw.predicted),
    coverage: num(raw.coverage),
    perClass,
    confusion,
    sampleLabels,
  };
}
