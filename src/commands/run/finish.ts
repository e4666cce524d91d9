/**
 * Finishing a session: the ledger's counts, the one reconcile rule and the verdict; then the results
 * folder, the submission and the score, all from the document held in memory. A session that failed or
 * was interrupted is finished the same way, marked incomplete with the reason, so nothing processed is
 * lost.
 */
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import type { SessionLedger } from '../../common/session/index.js';
import type { ResultsMode, ResultsModel, ResultsSource } from '../../common/results-document.js';
import type { ScoredMessage, SessionMessage } from '../../common/wire/control.js';
import type { SaveOptions, StreamDeduper } from '../../dedupe/index.js';
import type { ControlClient, SessionFinish } from '../../processing/index.js';
import {
  formatTerminalSummary,
  writeResultsFolder,
  writeScore,
  writeSubmissionError,
  type SessionOutcome,
  type SessionRecorder,
  type WrittenResults,
} from '../../results/index.js';

const log = loggerFor('run');

export interface FinishInput {
  session: SessionMessage;
  finish: SessionFinish;
  ledger: SessionLedger;
  recorder: SessionRecorder;
  deduper?: StreamDeduper;
  mode: ResultsMode;
  /** The --metric asked for (the unique store reports none for hash and pixel methods). */
  metric: string;
  /** What the client asked for: fills the document where the `session` message is silent. */
  requested: { source?: string; count?: number };
  model: ResultsModel | null;
  timings: { startedAt: number; endedAt: number; modelLoadMs: number; streamMs: number };
  out: string;
  saveName?: string;
  /** How the --save-name save is written (--save-as, --save-frames). */
  saveOptions?: SaveOptions;
  /** Where to submit; absent when the control connection is gone. */
  control?: ControlClient;
  /** Only judge the session: write, submit and score nothing (the benchmark's timing). */
  skipResults?: boolean;
}

export interface Finished {
  outcome: SessionOutcome;
  written?: WrittenResults;
  scored?: ScoredMessage;
  submissionError?: string;
  summary?: string;
}

/** The session's outcome: counts, reconciliation and verdict from the ledger, the document's source. */
export function sessionOutcome(
  input: Omit<FinishInput, 'out' | 'saveName' | 'saveOptions' | 'control'>,
): SessionOutcome {
  const { session, finish, ledger, deduper } = input;

  // The contract leaves `source` and the frame size optional in `session`: fill from what the client knows.
  const source: ResultsSource = {
    name: session.source || input.requested.source || 'server-default',
    ...(session.width !== undefined ? { width: session.width } : {}),
    ...(session.height !== undefined ? { height: session.height } : {}),
    ...(session.channels === 1 || session.channels === 3 ? { channels: session.channels } : {}),
    requestedCount: input.requested.count ?? null,
    fps: session.fps,
  };
  const status = deduper?.status();
  return {
    sessionId: session.sessionId,
    mode: input.mode,
    source,
    model: input.model,
    ...ledger.judge(finish.sent, finish.ending),
    predictions: input.recorder.predictions,
    samples: input.recorder.samples,
    timings: { ...input.timings },
    ...(status
      ? {
          dedupe: {
            method: status.method,
            metric: status.metric ?? input.metric,
            threshold: status.threshold,
            uniques: status.uniques,
            duplicates: status.duplicates,
            savedFolders: status.saves.map((save) => save.folder),
            // What the keypoint check did (its joins are counted in duplicates); null when off or not built.
            keypoints: status.keypoints,
          },
        }
      : {}),
  };
}

export async function finishSession(input: FinishInput): Promise<Finished> {
  const { session } = input;
  const sessionId = session.sessionId;
  if (input.deduper && input.saveName !== undefined && !input.skipResults) {
    await input.deduper.save(input.saveName, input.saveOptions);
  }
  const outcome = sessionOutcome(input);
  const { counts, reconciliation, verdict } = outcome;
  log.info('session finished', {
    sessionId,
    ...counts,
    reconciled: reconciliation.reconciled,
    complete: verdict.complete,
    reasons: verdict.reasons,
    streamMs: Math.round(input.timings.streamMs),
  });
  if (input.skipResults) return { outcome };
  const written = await writeResultsFolder(input.out, outcome);
  const { folder, document } = written;
  let scored: ScoredMessage | undefined;
  let submissionError: string | undefined;
  if (written.invalid)
    submissionError = `the results document is invalid (${written.invalid}): not submitted`;
  else if (!input.control) submissionError = 'the control connection is closed: not submitted';
  else {
    try {
      scored = await input.control.submit(sessionId, document as unknown as Record<string, unknown>);
    } catch (err) {
      submissionError = errorMessage(err);
    }
  }
  let summary: string;
  if (scored) {
    const score = await writeScore(folder, scored, document);
    summary = formatTerminalSummary({ document, folder, score });
  } else {
    await writeSubmissionError(folder, new Error(submissionError), document);
    summary = formatTerminalSummary({ document, folder, submissionError });
  }
  return {
    outcome,
    written,
    ...(scored ? { scored } : {}),
    ...(submissionError ? { submissionError } : {}),
    summary,
  };
}
