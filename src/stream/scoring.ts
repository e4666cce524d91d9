/**
 * Scores a submitted results document against the labels the server kept for the session (seq → true
 * label of the frame it sent) and reconciles the client's frame counts with what the server sent, with
 * the same rule the client applied (src/common/session/rule.ts).
 */
import type { ResultsDocument } from '../common/results-document.js';
import { judgeSession, reconcileCounts, type SessionEnding } from '../common/session/index.js';
import type { ClassScore, Score } from '../common/wire/score.js';

export type { ClassScore, Score, ServerReconciliation } from '../common/wire/score.js';

/** Fashion-MNIST has 10 classes; a source with more labels gets a wider matrix. */
const MIN_CLASSES = 10;

/**
 * @param labels true label per seq the server sent, or undefined for an unlabelled source
 *   (its length is the number of frames sent).
 * @param ending how the session ended on the server (default: ended normally).
 */
export function scoreSubmission(
  doc: ResultsDocument,
  sent: number,
  labels: ArrayLike<number> | undefined,
  ending: SessionEnding = { kind: 'ended' },
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

  // The client's counts under the one rule, with the server's own `sent`: a client that never learned
  // `sent`, or learned another figure, does not reconcile.
  const counts = doc.counts;
  const rule = reconcileCounts({ ...counts, sent });
  const checks = {
    clientSentMatches: counts.sent === sent,
    receivedPlusMissingEqualsSent: rule.sentEqualsReceivedPlusMissing === true,
    receivedEqualsProcessedPlusDroppedPlusInvalid: rule.receivedEqualsProcessedPlusDroppedPlusInvalid,
    predictionsWithinSession: outside === 0,
  };
  const reconciled = Object.values(checks).every(Boolean);
  const verdict = judgeSession({ reconciled, missing: counts.missing, sent, ending });
  const { droppedTotal, invalidTotal, unattributed } = rule;

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
      unattributed,
      missing: counts.missing,
      predictionsOutsideSession: outside,
      predictedLabelsOutOfRange: outOfRange,
      checks,
      reconciled,
      explanation: !checks.clientSentMatches
        ? `not reconciled: the client says the server sent ${counts.sent ?? 'an unknown number of'} frames, the server sent ${sent}`
        : !checks.predictionsWithinSession
          ? `not reconciled: ${outside} prediction(s) for seqs the server never sent`
          : rule.explanation,
    },
    verdict,
  };
}
