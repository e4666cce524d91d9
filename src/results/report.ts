/** summary.md: the human report of a session, rendered from the document (and the score once received). */
import type { ResultsDocument } from '../common/results-document.js';
import { dedupeDistanceName, labelName } from './labels.js';
import { formatRanges, unattributedOf } from '../common/session/index.js';
import type { ScoreReport } from './score.js';

export interface ReportContext {
  document: ResultsDocument;
  classNames: readonly string[] | undefined;
  score?: ScoreReport;
  submissionError?: string;
}

const ok = (value: boolean | null | undefined): string =>
  value === true ? '✅ yes' : value === false ? '❌ no' : '—';
const pct = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined ? '—' : `${(value * 100).toFixed(digits)}%`;
const ms = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : `${value.toFixed(2)} ms`;
const cell = (text: string): string => text.replace(/\|/g, '\\|');

function table(header: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map((v) => cell(String(v))).join(' | ')} |`);
  return lines.join('\n');
}

function byReason(title: string, counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  if (entries.length === 0) return `${title}: none.`;
  return `${title}:\n\n${table(
    ['reason', 'frames'],
    entries.sort(([a], [b]) => a.localeCompare(b)),
  )}`;
}

export function renderSummaryMarkdown({
  document: doc,
  classNames,
  score,
  submissionError,
}: ReportContext): string {
  const { counts, reconciliation: rec, summary } = doc;
  const dropped = Object.values(counts.dropped).reduce((a, b) => a + b, 0);
  const invalid = Object.values(counts.invalid).reduce((a, b) => a + b, 0);
  const unattributed = rec.unattributed ?? unattributedOf(counts.invalid);
  const attributed = counts.received - unattributed;
  const out: string[] = [];

  out.push(`# framesift session \`${doc.sessionId}\``, '');
  out.push(
    table(
      ['', ''],
      [
        ['mode', doc.mode],
        [
          'source',
          `${doc.source.name}${doc.source.width ? ` (${doc.source.width}×${doc.source.height}×${doc.source.channels ?? '?'})` : ''}`,
        ],
        ['model', doc.model ? `${doc.model.file} (sha256 \`${doc.model.sha256.slice(0, 16)}…\`)` : 'none'],
        ['framesift', doc.framesiftVersion],
        ['written', doc.createdAt ?? '—'],
        ['reconciled', ok(rec.reconciled)],
        ['complete', doc.verdict ? `${ok(doc.verdict.complete)} — ${doc.verdict.explanation}` : '—'],
        [
          'score',
          score
            ? `accuracy ${pct(score.accuracy)}`
            : submissionError
              ? 'submission failed'
              : 'not scored yet',
        ],
      ],
    ),
    '',
  );

  out.push('## Frame counts', '');
  out.push(
    table(
      ['count', 'frames'],
      [
        ['sent by the server', counts.sent ?? 'unknown'],
        ['received', counts.received],
        ['processed', counts.processed],
        ['dropped', dropped],
        ['invalid', invalid],
        ['missing (never received)', counts.missing],
        ['predicted (classified)', summary.predicted],
      ],
    ),
    '',
  );

  out.push('## Reconciliation', '');
  out.push(
    table(
      ['check', 'left', 'right', 'holds'],
      [
        [
          'sent = (received − unattributed) + missing',
          counts.sent ?? 'unknown',
          `(${counts.received} − ${unattributed}) + ${counts.missing} = ${attributed + counts.missing}`,
          ok(rec.sentEqualsReceivedPlusMissing),
        ],
        [
          'received = processed + dropped + invalid',
          counts.received,
          `${counts.processed} + ${dropped} + ${invalid} = ${counts.processed + dropped + invalid}`,
          ok(rec.receivedEqualsProcessedPlusDroppedPlusInvalid),
        ],
      ],
    ),
    '',
    `**${rec.reconciled ? 'Reconciled' : 'Not reconciled'}.** ${rec.explanation ?? ''}`,
    '',
    `Missing seqs (${rec.missingRanges.length} range(s)): ${formatRanges(rec.missingRanges)}`,
    '',
    byReason('Dropped by reason', counts.dropped),
    '',
    byReason('Invalid by reason', counts.invalid),
    '',
  );

  const scoreByLabel = new Map(score?.perClass.map((c) => [c.label, c]) ?? []);
  out.push('## Predictions per class', '');
  const perClassHeader = ['label', 'class', 'predicted', 'share', 'mean confidence'];
  if (score) perClassHeader.push('precision', 'recall', 'support');
  out.push(
    table(
      perClassHeader,
      summary.perClass.map((c) => {
        const row: Array<string | number> = [
          c.label,
          c.name ?? labelName(c.label, classNames),
          c.count,
          summary.predicted > 0 ? pct(c.count / summary.predicted, 1) : '—',
          c.meanConfidence === null ? '—' : c.meanConfidence.toFixed(4),
        ];
        if (score) {
          const s = scoreByLabel.get(c.label);
          row.push(pct(s?.precision, 1), pct(s?.recall, 1), s?.support ?? '—');
        }
        return row;
      }),
    ),
    '',
    `Mean confidence over all predictions: ${summary.meanConfidence == null ? '—' : summary.meanConfidence.toFixed(4)}`,
    '',
    '![predictions per class](charts/per-class.png)',
    '',
  );

  out.push('## Latency and throughput', '');
  const latency = summary.latencyMs;
  out.push(
    latency
      ? table(
          ['frames timed', 'p50', 'p90', 'p99', 'max', 'mean'],
          [
            [
              latency.count,
              ms(latency.p50),
              ms(latency.p90),
              ms(latency.p99),
              ms(latency.max),
              ms(latency.mean),
            ],
          ],
        )
      : 'No frame carried a send time: latency unknown.',
    '',
    `Latency is measured from the frame's send time (header \`sentAt\`) to its result reaching the main thread. Throughput: ${summary.throughputFps == null ? '—' : `${Number(summary.throughputFps).toFixed(1)} frames/s`} over ${typeof doc.timings.activeMs === 'number' ? `${ms(doc.timings.activeMs)} from the first frame sent to the last result` : `${ms(Number(doc.timings.durationMs ?? NaN))} of session`}.`,
    '',
    '![latency histogram](charts/latency.png)',
    '',
  );

  out.push('## Score from the server', '');
  if (score) {
    out.push(
      table(
        [
          'accuracy',
          'correct / predicted',
          'coverage (predicted / sent)',
          'server: sent',
          'server: received',
          'server: reconciled',
        ],
        [
          [
            pct(score.accuracy),
            `${score.correct ?? '—'} / ${score.predicted ?? '—'}`,
            pct(score.coverage),
            score.sent ?? '—',
            score.received ?? '—',
            ok(score.reconciled),
          ],
        ],
      ),
      '',
    );
    if (score.confusion) {
      const short = (label: number): string => labelName(label, classNames);
      out.push(
        'Confusion matrix (rows: true class, columns: predicted class):',
        '',
        table(
          ['true \\ predicted', ...score.confusion.map((_, j) => short(j))],
          score.confusion.map((row, i) => [`**${short(i)}**`, ...row]),
        ),
        '',
      );
    }
  } else if (submissionError) {
    out.push(`Submission failed: ${submissionError}`, '');
  } else {
    out.push('Not scored yet: the results have not been submitted, or the server has not answered.', '');
  }

  out.push('## Samples', '');
  out.push(
    'Chosen automatically and deterministically: one per predicted class where possible, alternating the most and the least confident prediction. After scoring, the true label is written in green when right, red when wrong.',
    '',
    '![samples](samples.png)',
    '',
  );
  out.push(
    table(
      ['seq', 'predicted', 'confidence', 'chosen as', 'true label', 'image'],
      doc.samples.map((s) => {
        const truth = score?.sampleLabels.get(s.seq);
        const truthText =
          truth === undefined ? '—' : `${labelName(truth, classNames)} ${truth === s.label ? '✅' : '❌'}`;
        return [
          s.seq,
          s.labelName ?? labelName(s.label, classNames),
          s.confidence.toFixed(4),
          s.reason ?? '—',
          truthText,
          s.file ? `[${s.file}](${s.file})` : '—',
        ];
      }),
    ),
    '',
  );

  if (doc.dedupe) {
    const d = doc.dedupe;
    out.push('## Unique frames', '');
    out.push(
      table(
        ['method', 'distance', 'threshold', 'uniques', 'duplicates', 'saved folders'],
        [
          [
            d.method,
            dedupeDistanceName(d.method, d.metric),
            d.threshold,
            d.uniques,
            d.duplicates,
            d.savedFolders.join(', ') || 'none',
          ],
        ],
      ),
      '',
    );
  }

  out.push('## Timings', '');
  out.push(
    table(
      ['timing', 'value'],
      Object.entries(doc.timings).map(([key, value]) => [
        key,
        typeof value === 'number' ? ms(value) : String(value),
      ]),
    ),
    '',
  );

  out.push('## Files', '');
  out.push(
    '- `results.json` — the document submitted to the server (schema: `schemas/results.schema.json`)',
    '- `metrics.json` — the summary metrics alone',
    "- `score.json` — the server's reply, once scored",
    '- `samples/` — the annotated sample frames; `samples.png` — all of them on one sheet',
    '- `charts/per-class.png`, `charts/latency.png`',
    '',
  );
  return out.join('\n');
}
