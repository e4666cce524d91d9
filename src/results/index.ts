/**
 * The results stage: the last stage of `framesift run`. It accumulates predictions and sample candidates
 * during a session, writes the results folder (results.json, summary.md,
 * metrics.json, samples, charts) and, after submission, the server's score.
 */
export { type FrameImage } from './samples.js';
export { SessionRecorder } from './recorder.js';
export { formatTerminalSummary } from './terminal.js';
export {
  writeResultsFolder,
  writeScore,
  writeSubmissionError,
  type SessionOutcome,
  type WrittenResults,
} from './write.js';
