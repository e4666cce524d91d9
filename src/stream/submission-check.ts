/**
 * Checking a `submit` message, written to run on a worker thread: parse the JSON text, bound its nesting,
 * validate the results document and serialise it compactly for persistence. A 40 MB submission costs
 * seconds of parsing and validation; on the server's event loop that would stall every other stream.
 */
import { validateResultsDocument, type ResultsDocument } from '../common/results-document.js';
import { bounded } from '../common/text.js';
import { submitRequestSchema, type ControlErrorCode } from '../common/wire/control.js';

/** Deepest nesting a submitted message may have (the results document needs fewer than 10 levels). */
export const MAX_SUBMIT_DEPTH = 64;

export type SubmissionCheck =
  | {
      ok: true;
      sessionId: string;
      /** `secret` as sent, for an owner that reconnected. */
      secret?: string;
      document: ResultsDocument;
      /** The submitted results, re-serialised without indentation (what is persisted). */
      compact: string;
    }
  | { ok: false; code: ControlErrorCode; message: string; sessionId?: string };

/**
 * Depth of `text`'s JSON nesting, counted on the text (strings skipped), so a 20,000-deep document is
 * refused before anything recursive (JSON.parse, the validator, JSON.stringify) walks it.
 */
export function jsonDepth(text: string, limit = MAX_SUBMIT_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Checks the text of a control message that should be a `submit`. */
export function checkSubmission(text: string): SubmissionCheck {
  const depth = jsonDepth(text);
  if (depth > MAX_SUBMIT_DEPTH) {
    return {
      ok: false,
      code: 'invalid-results',
      message: `submit: nested deeper than ${MAX_SUBMIT_DEPTH} levels: expected a results document (schemas/results.schema.json)`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      code: 'bad-json',
      message: `control message is not JSON (${bounded((err as Error).message)})`,
    };
  }
  const request = submitRequestSchema.safeParse(parsed);
  if (!request.success) {
    const issue = request.error.issues[0];
    return {
      ok: false,
      code: 'bad-message',
      message: `submit: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'invalid'}`,
    };
  }
  const { sessionId, results } = request.data;
  const secret = (parsed as { secret?: unknown }).secret;
  const validation = validateResultsDocument(results);
  if (!validation.ok) {
    return {
      ok: false,
      code: 'invalid-results',
      message: `submit: invalid results document: ${bounded(validation.errors, 400)}`,
      sessionId,
    };
  }
  return {
    ok: true,
    sessionId,
    ...(typeof secret === 'string' ? { secret } : {}),
    document: validation.document,
    compact: JSON.stringify(results),
  };
}
