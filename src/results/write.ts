/**
 * The results folder `<out>/<sessionId>/`: results.json (the document submitted to the server),
 * summary.md, metrics.json, samples/*.png, samples.png, charts/*.png, and later score.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loggerFor } from '../common/logger.js';
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import { PROJECT_ROOT } from '../common/paths.js';
import { errorMessage } from '../common/errors.js';
import {
  RESULTS_FORMAT,
  validateResultsDocument,
  type ResultsDedupe,
  type ResultsDocument,
  type ResultsMode,
  type ResultsModel,
  type ResultsSample,
  type ResultsSource,
  type ResultsSummary,
} from '../common/results-document.js';
import type { ScoredMessage } from '../common/wire/control.js';
import type { ResultsCollector } from './collector.js';
import { FASHION_MNIST_CLASSES, labelName } from './labels.js';
import { classSummaries, histogram, latencySummary, meanOf, round } from './metrics.js';
import type { Reconciliation, SessionCounts, SessionVerdict } from '../common/session/index.js';
import {
  displayImage,
  renderBarChart,
  renderContactSheet,
  renderHistogram,
  renderSampleCard,
  type BarRow,
} from './render.js';
import { renderSummaryMarkdown } from './report.js';
import type { SampleCollector } from './samples.js';
import { readScore, type ScoreReport } from './score.js';
import { formatTerminalSummary } from './terminal.js';

const log = loggerFor('results');

const sampleFailures = (): prom.Counter =>
  metric(
    'framesift_results_sample_render_failures_total',
    () =>
      new prom.Counter({
        name: 'framesift_results_sample_render_failures_total',
        help: 'Sample frames that could not be decoded or rendered (corrupt JPEG/PNG payloads)',
        registers: [metricsRegistry],
      }),
  );

let cachedVersion: string | undefined;
/** framesift's version, from package.json. */
export function framesiftVersion(): string {
  cachedVersion ??= (
    JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
  ).version;
  return cachedVersion;
}

/** What the run command hands over when a session ends. */
export interface SessionOutcome {
  sessionId: string;
  mode: ResultsMode;
  source: ResultsSource;
  /** The classifier used (file name and its verified sha256), or null. */
  model: ResultsModel | null;
  /** The ledger's counts (`sent` is null when the server never reported it). */
  counts: SessionCounts;
  /** The ledger's reconciliation of those counts (the one rule, plus the missing seq ranges). */
  reconciliation: Reconciliation;
  verdict: SessionVerdict;
  /** Seqs the ledger counted beyond `sent`: their results are not reported. */
  beyondSent?: readonly number[];
  predictions: ResultsCollector;
  samples: SampleCollector;
  /** Class names by label; Fashion-MNIST's when omitted and the source or model is Fashion-MNIST. */
  classNames?: readonly string[];
  /** ms since the epoch; any other numeric field is a phase duration in ms (e.g. modelLoadMs). */
  timings: { startedAt: number; endedAt: number; [phaseMs: string]: number };
  dedupe?: ResultsDedupe;
}

export interface WrittenResults {
  folder: string;
  document: ResultsDocument;
  /** Set when the document fails its own schema (a bug): it was written but must not be submitted. */
  invalid?: string;
}

/** Session ids come from the server: keep them to one safe path segment. */
export function sessionFolderName(sessionId: string): string {
  const safe = sessionId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
  return safe === '' || /^\.+$/.test(safe)
    ? `session_${Buffer.from(sessionId).toString('hex').slice(0, 32)}`
    : safe;
}

export function resultsClassNames(outcome: SessionOutcome): readonly string[] | undefined {
  if (outcome.classNames) return outcome.classNames;
  const fashion = /fashion-mnist/i;
  return fashion.test(outcome.source.name) || fashion.test(outcome.model?.file ?? '')
    ? FASHION_MNIST_CLASSES
    : undefined;
}

function sampleFile(index: number, seq: number): string {
  return `samples/sample-${String(index + 1).padStart(2, '0')}-seq-${seq}.png`;
}

function plainFile(seq: number): string {
  return `samples/plain/seq-${seq}.png`;
}

/** results.json stays readable: two-space indentation, but the long columns each on one line. */
export function serializeDocument(doc: ResultsDocument): string {
  const inline = new Map<string, string>();
  const token = (value: unknown): string => {
    const key = `@@inline-${inline.size}@@`;
    inline.set(`"${key}"`, JSON.stringify(value));
    return key;
  };
  const shaped = {
    ...doc,
    reconciliation: { ...doc.reconciliation, missingRanges: token(doc.reconciliation.missingRanges) },
    predictions: {
      seq: token(doc.predictions.seq),
      label: token(doc.predictions.label),
      confidence: token(doc.predictions.confidence),
    },
  };
  let text = JSON.stringify(shaped, null, 2);
  for (const [key, json] of inline) text = text.replace(key, () => json);
  return `${text}\n`;
}

function barRows(summary: ResultsSummary, score?: ScoreReport): BarRow[] {
  const recall = new Map(score?.perClass.map((c) => [c.label, c.recall]) ?? []);
  const rows =
    summary.perClass.length > 30
      ? [...summary.perClass].sort((a, b) => b.count - a.count || a.label - b.label).slice(0, 30)
      : summary.perClass;
  return rows.map((c) => {
    const notes: string[] = [];
    if (c.meanConfidence !== null) notes.push(`conf ${c.meanConfidence.toFixed(3)}`);
    const r = recall.get(c.label);
    if (r !== undefined && r !== null) notes.push(`recall ${(r * 100).toFixed(1)}%`);
    return { name: c.name ?? `class ${c.label}`, count: c.count, note: notes.join(' · ') };
  });
}

async function writeCharts(
  folder: string,
  doc: ResultsDocument,
  latencies: ArrayLike<number> | undefined,
  score?: ScoreReport,
): Promise<void> {
  await mkdir(path.join(folder, 'charts'), { recursive: true });
  const perClass = await renderBarChart(
    `Predictions per class — ${doc.summary.predicted} frames, session ${doc.sessionId}`,
    barRows(doc.summary, score),
  );
  await writeFile(path.join(folder, 'charts', 'per-class.png'), perClass);
  if (latencies) {
    const l = doc.summary.latencyMs;
    const upper = l ? Math.max(l.p99 * 1.25, l.p50 * 2, 0.01) : 1;
    const hist = histogram(latencies, 40, upper);
    const markers = l
      ? [
          { label: 'p50', value: l.p50 },
          { label: 'p90', value: l.p90 },
          { label: 'p99', value: l.p99 },
        ]
      : [];
    const chart = await renderHistogram('Latency per frame: send → result', hist, markers, 'milliseconds');
    await writeFile(path.join(folder, 'charts', 'latency.png'), chart);
  }
}

interface RenderedSample {
  meta: ResultsSample;
  card: Buffer;
}

/** (Re-)renders the sample cards from their plain images, with true labels when scored. */
async function renderSamples(
  folder: string,
  sessionId: string,
  samples: ResultsSample[],
  classNames: readonly string[] | undefined,
  score?: ScoreReport,
): Promise<RenderedSample[]> {
  const rendered: RenderedSample[] = [];
  for (const sample of samples) {
    const plain = await readFile(path.join(folder, plainFile(sample.seq)));
    const truth = score?.sampleLabels.get(sample.seq);
    const card = await renderSampleCard(plain, {
      seq: sample.seq,
      predicted: labelName(sample.label, classNames),
      confidence: sample.confidence,
      truth: truth === undefined ? undefined : labelName(truth, classNames),
      correct: truth === undefined ? undefined : truth === sample.label,
      scoredWithoutLabel: score !== undefined && truth === undefined,
    });
    if (sample.file) await writeFile(path.join(folder, sample.file), card);
    rendered.push({ meta: sample, card });
  }
  const title =
    samples.length > 0
      ? `Session ${sessionId}: ${samples.length} samples — predicted label · confidence · #seq${score ? ' · true label' : ''}`
      : `Session ${sessionId}: no samples (nothing was classified)`;
  await writeFile(
    path.join(folder, 'samples.png'),
    await renderContactSheet(
      rendered.map((r) => r.card),
      title,
    ),
  );
  return rendered;
}

function metricsFile(doc: ResultsDocument, score?: ScoreReport): string {
  const scoreFields = score
    ? {
        score: {
          accuracy: score.accuracy,
          correct: score.correct,
          predicted: score.predicted,
          coverage: score.coverage,
        },
      }
    : {};
  return `${JSON.stringify({ sessionId: doc.sessionId, reconciled: doc.reconciliation.reconciled, ...doc.summary, ...scoreFields }, null, 2)}\n`;
}

/**
 * The results document of a finished session, given its rendered samples. Pure apart from the clock
 * (createdAt): the size test builds 100,000-frame documents with it.
 */
export function buildResultsDocument(outcome: SessionOutcome, samples: ResultsSample[]): ResultsDocument {
  const classNames = resultsClassNames(outcome);
  const counts = outcome.counts;
  const rec = outcome.reconciliation;
  const predictions = outcome.predictions.columns(counts.sent ?? undefined);
  const { startedAt, endedAt, ...phases } = outcome.timings;
  const durationMs = Math.max(0, endedAt - startedAt);
  const activeMs = outcome.predictions.activeWindowMs;
  const throughputWindow = activeMs !== null && activeMs > 0 ? activeMs : durationMs;
  const meanConfidence = meanOf(outcome.predictions.confidencesView());

  const summary: ResultsSummary = {
    predicted: predictions.seq.length,
    meanConfidence: meanConfidence === null ? null : round(meanConfidence, 4),
    perClass: classSummaries(
      outcome.predictions.labelsView(),
      outcome.predictions.confidencesView(),
      classNames,
    ),
    latencyMs: latencySummary(outcome.predictions.latencyMs()),
    throughputFps: throughputWindow > 0 ? round((counts.processed * 1000) / throughputWindow, 2) : null,
  };

  return {
    format: RESULTS_FORMAT,
    framesiftVersion: framesiftVersion(),
    sessionId: outcome.sessionId,
    mode: outcome.mode,
    createdAt: new Date().toISOString(),
    ...(classNames ? { classNames: [...classNames] } : {}),
    source: outcome.source,
    model: outcome.model,
    counts: {
      sent: counts.sent,
      received: counts.received,
      processed: counts.processed,
      dropped: { ...counts.dropped },
      invalid: { ...counts.invalid },
      missing: counts.missing,
    },
    reconciliation: {
      reconciled: rec.reconciled,
      missingRanges: rec.missingRanges,
      sentEqualsReceivedPlusMissing: rec.sentEqualsReceivedPlusMissing,
      receivedEqualsProcessedPlusDroppedPlusInvalid: rec.receivedEqualsProcessedPlusDroppedPlusInvalid,
      droppedTotal: rec.droppedTotal,
      invalidTotal: rec.invalidTotal,
      unattributed: rec.unattributed,
      explanation: rec.explanation,
    },
    verdict: { ...outcome.verdict, reasons: [...outcome.verdict.reasons] },
    predictions,
    samples,
    summary,
    timings: {
      startedAt: new Date(startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: round(durationMs, 3),
      ...(activeMs !== null ? { activeMs: round(activeMs, 3) } : {}),
      ...phases,
    },
    ...(outcome.dedupe ? { dedupe: outcome.dedupe } : {}),
  };
}

/**
 * Writes every file of the results folder and returns the document to submit. The document is validated
 * against the schema before it is written: an invalid one is a bug here, not a user error.
 */
export async function writeResultsFolder(outDir: string, outcome: SessionOutcome): Promise<WrittenResults> {
  const folder = path.resolve(outDir, sessionFolderName(outcome.sessionId));
  await mkdir(path.join(folder, 'samples', 'plain'), { recursive: true });
  const classNames = resultsClassNames(outcome);

  // Samples: the plain display image is kept so writeScore can redraw the card with the true label. A frame
  // that does not decode (a corrupt JPEG) is replaced by the next candidate.
  const failed = new Set<number>(outcome.beyondSent ?? []);
  let chosen = outcome.samples.samples(failed);
  for (let attempt = 0; attempt < 5; attempt++) {
    let failedNow = false;
    for (const sample of chosen) {
      try {
        await writeFile(path.join(folder, plainFile(sample.seq)), await displayImage(sample.image));
      } catch (err) {
        failed.add(sample.seq);
        failedNow = true;
        sampleFailures().inc();
        log.warn('sample frame could not be decoded; choosing another', {
          sessionId: outcome.sessionId,
          seq: sample.seq,
          encoding: sample.image.encoding,
          error: errorMessage(err),
        });
      }
    }
    if (!failedNow) break;
    chosen = outcome.samples.samples(failed);
  }
  const samples: ResultsSample[] = chosen
    .filter((sample) => !failed.has(sample.seq))
    .map((sample, i) => ({
      seq: sample.seq,
      label: sample.label,
      labelName: labelName(sample.label, classNames),
      confidence: round(sample.confidence, 4),
      reason: sample.reason,
      file: sampleFile(i, sample.seq),
      png: '',
    }));
  const rendered = await renderSamples(folder, outcome.sessionId, samples, classNames);
  rendered.forEach((r) => (r.meta.png = r.card.toString('base64')));

  const document = buildResultsDocument(outcome, samples);
  const latencies = outcome.predictions.latencyMs();

  // An invalid document is a bug here, not the user's: the folder is still written, so nothing processed
  // is lost, and the caller learns why the document cannot be submitted.
  const check = validateResultsDocument(document);
  const invalid = check.ok ? undefined : check.errors;
  if (invalid) log.error('results document is invalid', { sessionId: outcome.sessionId, errors: invalid });

  await writeFile(path.join(folder, 'results.json'), serializeDocument(document));
  await writeFile(path.join(folder, 'metrics.json'), metricsFile(document));
  await writeCharts(folder, document, latencies);
  await writeFile(path.join(folder, 'summary.md'), renderSummaryMarkdown({ document, classNames }));
  log.info('results written', {
    sessionId: outcome.sessionId,
    folder,
    predicted: document.summary.predicted,
    reconciled: document.reconciliation.reconciled,
    complete: document.verdict?.complete,
  });
  return { folder, document, ...(invalid ? { invalid } : {}) };
}

async function readDocument(folder: string, known?: ResultsDocument): Promise<ResultsDocument> {
  if (known) return known;
  const file = path.join(folder, 'results.json');
  const check = validateResultsDocument(JSON.parse(await readFile(file, 'utf8')));
  if (!check.ok) throw new Error(`${file} is not a valid results document: ${check.errors}`);
  return check.document;
}

/**
 * Saves the server's `scored` reply as score.json and redraws summary.md, metrics.json, the per-class
 * chart and the sample cards with the true labels (green when right, red when wrong).
 */
export async function writeScore(
  folder: string,
  scored: ScoredMessage | Record<string, unknown>,
  known?: ResultsDocument,
): Promise<ScoreReport> {
  const document = await readDocument(folder, known);
  const score = readScore(scored);
  if (score.sessionId !== document.sessionId) {
    throw new Error(
      `score for session "${score.sessionId}" does not belong to the results in ${folder} (session "${document.sessionId}")`,
    );
  }
  const classNames = document.classNames;
  await writeFile(path.join(folder, 'score.json'), `${JSON.stringify(scored, null, 2)}\n`);
  await renderSamples(folder, document.sessionId, document.samples, classNames, score);
  await writeCharts(folder, document, undefined, score);
  await writeFile(path.join(folder, 'metrics.json'), metricsFile(document, score));
  await writeFile(path.join(folder, 'summary.md'), renderSummaryMarkdown({ document, classNames, score }));
  log.info('score written', { sessionId: document.sessionId, folder, accuracy: score.accuracy });
  return score;
}

/** Saves the server's refusal (an `error` reply, a timeout) next to the results and notes it in summary.md. */
export async function writeSubmissionError(
  folder: string,
  error: unknown,
  known?: ResultsDocument,
): Promise<string> {
  const document = await readDocument(folder, known);
  const message =
    error && typeof error === 'object' && 'message' in error
      ? `${'code' in error ? `${String((error as { code: unknown }).code)}: ` : ''}${String((error as { message: unknown }).message)}`
      : String(error);
  const saved = error instanceof Error ? { message: error.message } : error;
  await writeFile(
    path.join(folder, 'submission-error.json'),
    `${JSON.stringify({ sessionId: document.sessionId, at: new Date().toISOString(), error: saved }, null, 2)}\n`,
  );
  await writeFile(
    path.join(folder, 'summary.md'),
    renderSummaryMarkdown({ document, classNames: document.classNames, submissionError: message }),
  );
  log.warn('submission failed', { sessionId: document.sessionId, folder, error: message });
  return message;
}

export { formatTerminalSummary };
