/**
 * Scores a submitted results document against the labels the server kept for the session (seq → true
 * label of the frame it sent) and reconciles the client's frame counts with what the server sent.
 */
import type { ResultsDocument } from '../common/results-document.js';
import type { ClassScore, ScoredMessage, ServerReconciliation } from '../common/wire/control.js';

/** The score is the `scored` message without its envelope; its shape is defined once, in the wire schemas. */
export type Score = Omit<ScoredMessage, 'type' | 'sessionId' | 'submission'>;
export type { ClassScore, ServerReconciliation };

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Fashion-MNIST has 10 classes; a source with more labels gets a wider matrix. */
const MIN_CLASSES = 10;

/**
 * @param labels true label per seq the server sent, or undefined for an unlabelled source
 *   (its length is the number of frames sent).
 */
export function scoreSubmission(
  doc: ResultsDocument,
  sent: number,
  labels: ArrayLike<number> | undefined,
): Score {
  const { seq, label: predictedLabels } = doc.predictions;
  let maxLabel = MIN_CLASSES - 1;
  if (labels) for (let i = 0; i < labels.length; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  // Predicted labels outside the true classes count as wrong but get no matrix column: a document naming
  // label 65535 must not make the server allocate a 65536² matrix.
  const classes = maxLabel + 1;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));

  let correct = 0;
  let predicted = 0;
  let outside = 0;
  let outOfRange = 0;
  for (let i = 0; i < seq.length; i++) {
    const s = seq[i]!;
    if (s >= sent) {
      outside++;
      continue;
    }
    if (!labels) continue;
    const truth = labels[s]!;
    const guess = predictedLabels[i]!;
    predicted++;
    if (guess >= classes) {
      outOfRange++;
      continue;
    }
    confusion[truth]![guess]!++;
    if (truth === guess) correct++;
  }

  const perClass: ClassScore[] = [];
  for (let c = 0; c < classes; c++) {
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    const hits = confusion[c]![c]!;
    perClass.push({
      label: c,
      precision: predictedAs > 0 ? hits / predictedAs : null,
      recall: support > 0 ? hits / support : null,
      support,
    });
  }

  const sampleLabels: Record<string, number> = {};
  if (labels) {
    for (const sample of doc.samples) {
      if (sample.seq < sent) sampleLabels[String(sample.seq)] = labels[sample.seq]!;
    }
  }

  const counts = doc.counts;
  const droppedTotal = sum(counts.dropped);
  const invalidTotal = sum(counts.invalid);
  const checks = {
    clientSentMatches: counts.sent === null || counts.sent === sent,
    receivedPlusMissingEqualsSent: counts.received + counts.missing === sent,
    receivedEqualsProcessedPlusDroppedPlusInvalid:
      counts.processed + droppedTotal + invalidTotal === counts.received,
    predictionsWithinSession: outside === 0,
  };
  const reconciled = Object.values(checks).every(Boolean);

  return {
    accuracy: labels && predicted > 0 ? correct / predicted : null,
    labelled: labels !== undefined,
    sent,
    received: counts.received,
    reconciled,
    correct,
    predicted,
    coverage: sent > 0 ? predicted / sent : 0,
    perClass,
    confusion,
    sampleLabels,
    serverReconciliation: {
      sent,
      clientSent: counts.sent,
      received: counts.received,
      processed: counts.processed,
      droppedTotal,
      invalidTotal,
      missing: counts.missing,
      predictionsOutsideSession: outside,
      predictedLabelsOutOfRange: outOfRange,
      checks,
      reconciled,
    },
  };
}
