/**
 * The results stage: the last stage of `framesift run`. It accumulates predictions and sample candidates
 * during a session, writes the results folder (results.json, summary.md,
 * metrics.json, samples, charts) and, after submission, the server's score.
 */
export { ResultsCollector, type PredictionColumns } from './collector.js';
export { SampleCollector, SAMPLE_COUNT, type FrameImage, type Sample, type SampleReason } from './samples.js';
export { SessionRecorder } from './recorder.js';
export { classSummaries, latencySummary, percentile, histogram } from './metrics.js';
export { FASHION_MNIST_CLASSES, labelName } from './labels.js';
export { readScore, type ScoreReport, type ClassScore } from './score.js';
export { formatTerminalSummary, type TerminalSummaryInput } from './terminal.js';
export {
  writeResultsFolder,
  buildResultsDocument,
  resultsClassNames,
  writeScore,
  writeSubmissionError,
  serializeDocument,
  sessionFolderName,
  framesiftVersion,
  type SessionOutcome,
  type WrittenResults,
} from './write.js';
