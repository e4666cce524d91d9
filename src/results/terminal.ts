/** The one-screen summary `framesift run` prints when a session ends. */
import type { ResultsDocument } from '../common/results-document.js';
import { dedupeDistanceName, labelName } from './labels.js';
import { formatRanges } from '../common/session/index.js';
import type { ScoreReport } from './score.js';

export interface TerminalSummaryInput {
  document: ResultsDocument;
  folder: string;
  classNames?: readonly string[];
  score?: ScoreReport;
  submissionError?: string;
}

const fixed = (value: number | null | undefined, digits: number): string =>
  value === null || value === undefined ? '—' : value.toFixed(digits);

export function formatTerminalSummary({
  document: doc,
  folder,
  classNames,
  score,
  submissionError,
}: TerminalSummaryInput): string {
  const c = doc.counts;
  const sum = (byReason: Record<string, number>): number =>
    Object.values(byReason).reduce((a, b) => a + b, 0);
  const reasons = (byReason: Record<string, number>): string => {
    const entries = Object.entries(byReason).filter(([, n]) => n > 0);
    return entries.length > 0 ? ` (${entries.map(([r, n]) => `${r} ${n}`).join(', ')})` : '';
  };
  const lines: string[] = [];
  lines.push(
    `framesift session ${doc.sessionId} — ${doc.mode}, source ${doc.source.name}${doc.model ? `, model ${doc.model.file}` : ''}`,
  );
  lines.push(
    `  frames    sent ${c.sent ?? '?'} · received ${c.received} · processed ${c.processed} · dropped ${sum(c.dropped)}${reasons(c.dropped)} · invalid ${sum(c.invalid)}${reasons(c.invalid)} · missing ${c.missing}`,
  );
  lines.push(
    `  reconcile ${doc.reconciliation.reconciled ? 'OK' : 'FAILED'} — ${doc.reconciliation.explanation ?? ''}`,
  );
  if (doc.verdict) {
    lines.push(`  verdict   ${doc.verdict.complete ? 'complete' : doc.verdict.explanation}`);
  }
  if (doc.reconciliation.missingRanges.length > 0) {
    lines.push(`  missing   seqs ${formatRanges(doc.reconciliation.missingRanges, 5)}`);
  }
  const l = doc.summary.latencyMs;
  lines.push(
    `  latency   ${l ? `p50 ${fixed(l.p50, 2)} ms · p90 ${fixed(l.p90, 2)} ms · p99 ${fixed(l.p99, 2)} ms · max ${fixed(l.max, 2)} ms` : 'unknown'} · throughput ${fixed(doc.summary.throughputFps ?? null, 1)} frames/s`,
  );
  if (doc.summary.predicted > 0) {
    const classes = doc.summary.perClass
      .filter((p) => p.count > 0)
      .sort((a, b) => b.count - a.count || a.label - b.label)
      .slice(0, 10)
      .map((p) => `${p.name ?? labelName(p.label, classNames)} ${p.count}`);
    lines.push(`  classes   ${classes.join(' · ')}`);
    lines.push(
      `  confidence mean ${fixed(doc.summary.meanConfidence ?? null, 4)} over ${doc.summary.predicted} predictions`,
    );
  }
  if (doc.dedupe) {
    const d = doc.dedupe;
    lines.push(
      `  unique    ${d.uniques} kept · ${d.duplicates} duplicates (${d.method}, ${dedupeDistanceName(d.method, d.metric)} ≤ ${d.threshold})`,
    );
  }
  if (score) {
    lines.push(
      `  score     accuracy ${score.accuracy === null ? '—' : `${(score.accuracy * 100).toFixed(2)}%`} (${score.correct ?? '?'}/${score.predicted ?? '?'}) · coverage ${score.coverage === null ? '—' : `${(score.coverage * 100).toFixed(1)}%`} · server reconciled ${score.reconciled === null ? '?' : score.reconciled ? 'yes' : 'no'}`,
    );
  } else if (submissionError) {
    lines.push(`  score     submission failed: ${submissionError}`);
  }
  lines.push(`  results   ${folder}  (summary.md, results.json, samples.png)`);
  return lines.join('\n');
}
