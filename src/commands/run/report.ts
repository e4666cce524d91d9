/** What a finished run prints: the summary for a person, or one JSON object for scripts (`--json`). */
import { humanLogger } from '../../common/logger.js';
import type { PipelineResult } from './types.js';

/** What `run --json` and `demo --json` print: the session's outcome as one JSON object, for scripts. */
export function pipelineResultJson(result: PipelineResult): Record<string, unknown> {
  const document = result.written?.document;
  return {
    sessionId: result.sessionId,
    folder: result.written?.folder ?? null,
    counts: document?.counts ?? result.ledger.counts(result.sent),
    summary: document?.summary ?? null,
    dedupe: document?.dedupe ?? null,
    score: result.scored ?? null,
    complete: result.verdict.complete,
    incompleteReasons: result.verdict.reasons,
    stoppedByUser: result.stoppedByUser,
  };
}

/** The closing words of a session on stdout: the summary for a person, or JSON with --json. */
export function printPipelineResult(result: PipelineResult, json: boolean | undefined): void {
  if (json) humanLogger.info(JSON.stringify(pipelineResultJson(result)));
  else if (result.summary) humanLogger.info(result.summary);
}
