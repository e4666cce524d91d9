/**
 * The results document: what `framesift run` writes to results.json and submits to the server, which
 * validates it with the same function before scoring. The JSON Schema (schemas/results.schema.json) is the
 * public contract; the types below mirror it, and the validator adds the cross-field checks a schema cannot
 * express (equal column lengths, seqs strictly ascending, missingRanges from <= to; the schema's
 * descriptions state them for other languages).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { PROJECT_ROOT } from './paths.js';
import type { IncompleteReason, SessionCounts } from './session/index.js';

export const RESULTS_FORMAT = 'framesift-results/1';
export const RESULTS_SCHEMA_PATH = path.join(PROJECT_ROOT, 'schemas', 'results.schema.json');

export type ResultsMode = 'classify' | 'dedupe' | 'both';

export interface ResultsSource {
  name: string;
  width?: number;
  height?: number;
  channels?: 1 | 3;
  /** The `count` asked for in `start`; null for an endless source. */
  requestedCount?: number | null;
  fps?: number;
  [extra: string]: unknown;
}

export interface ResultsModel {
  file: string;
  sha256: string;
  name?: string;
  [extra: string]: unknown;
}

/** The session's frame counts (src/common/session: SessionCounts), as the document carries them. */
export interface ResultsCounts extends SessionCounts {
  [extra: string]: unknown;
}

/** The one reconcile rule applied to the counts (src/common/session/rule.ts). */
export interface ResultsReconciliation {
  reconciled: boolean;
  /** Inclusive seq ranges [from, to] never received, ascending. */
  missingRanges: Array<[number, number]>;
  /** sent = (received − unattributed) + missing; null when the server never said how many it sent. */
  sentEqualsReceivedPlusMissing?: boolean | null;
  receivedEqualsProcessedPlusDroppedPlusInvalid?: boolean;
  droppedTotal?: number;
  invalidTotal?: number;
  /** Invalid messages that name no frame of the session (no readable seq, repeated, out of range). */
  unattributed?: number;
  explanation?: string;
  [extra: string]: unknown;
}

/** Whether the session is complete, and if not why (src/common/session/rule.ts: judgeSession). */
export interface ResultsVerdict {
  complete: boolean;
  reasons: IncompleteReason[];
  explanation: string;
  [extra: string]: unknown;
}

/** Columnar per-frame predictions sorted by seq (compact: ~15 bytes per frame in JSON). */
export interface ResultsPredictions {
  seq: number[];
  label: number[];
  /** Rounded to 4 decimals. */
  confidence: number[];
}

export interface ResultsSample {
  seq: number;
  label: number;
  labelName?: string;
  confidence: number;
  reason?: 'most-confident' | 'least-confident' | 'fill';
  /** Path of the annotated PNG relative to the results folder. */
  file?: string;
  /** The annotated sample PNG, base64. */
  png: string;
  [extra: string]: unknown;
}

export interface ClassSummary {
  label: number;
  name?: string;
  count: number;
  meanConfidence: number | null;
}

export interface LatencySummary {
  count: number;
  mean?: number;
  min?: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ResultsSummary {
  predicted: number;
  meanConfidence?: number | null;
  perClass: ClassSummary[];
  latencyMs?: LatencySummary | null;
  throughputFps?: number | null;
  [extra: string]: unknown;
}

export interface ResultsTimings {
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  [extra: string]: unknown;
}

export interface ResultsDedupe {
  method: string;
  threshold: number;
  metric: string;
  uniques: number;
  duplicates: number;
  savedFolders: string[];
  /** The keypoint check: pairs compared, frames it made duplicates, pairs with an unreadable image. */
  keypoints?: { checks: number; joined: number; unreadable: number } | null;
  [extra: string]: unknown;
}

export interface ResultsDocument {
  format: typeof RESULTS_FORMAT;
  framesiftVersion: string;
  sessionId: string;
  mode: ResultsMode;
  createdAt?: string;
  /** Class names by label index, when the model has them. */
  classNames?: string[];
  source: ResultsSource;
  model: ResultsModel | null;
  counts: ResultsCounts;
  reconciliation: ResultsReconciliation;
  /** Absent in documents of framesift before 0.2 (read as: not judged). */
  verdict?: ResultsVerdict;
  predictions: ResultsPredictions;
  samples: ResultsSample[];
  summary: ResultsSummary;
  timings: ResultsTimings;
  dedupe?: ResultsDedupe;
  [extra: string]: unknown;
}

export type ResultsValidation = { ok: true; document: ResultsDocument } | { ok: false; errors: string };

let compiled: ValidateFunction | undefined;

/** Compiles the schema once per process (the server validates every submission with it). */
function validator(): ValidateFunction {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(RESULTS_SCHEMA_PATH, 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('date-time', {
    type: 'string',
    // The schema's own `pattern` fixes the form (RFC 3339); this adds that it is a real date.
    validate: (s: string) => !Number.isNaN(Date.parse(s)),
  });
  compiled = ajv.compile(schema);
  return compiled;
}

/** How many failing paths an error string names: enough to fix a document, short enough for one line. */
const MAX_REPORTED = 3;

function describe(error: ErrorObject): string {
  const at = error.instancePath || '(document)';
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return `${error.instancePath}/${missing} is required`;
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `${at} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'const') {
    return `${at} must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
  }
  return `${at} ${error.message ?? 'is invalid'}`;
}

/**
 * `oneOf` (object-or-null fields) reports every branch's failure; merge the branches' type errors into one
 * "must be object or null" line, and drop them when a deeper error says what is actually wrong.
 */
function summarize(errors: ErrorObject[]): string {
  const lines: string[] = [];
  const branchTypes = new Map<string, string[]>();
  const deeper = (at: string, self: ErrorObject): boolean =>
    errors.some(
      (e) => e !== self && e.keyword !== 'oneOf' && e.keyword !== 'type' && e.instancePath.startsWith(at),
    );
  for (const error of errors) {
    const inBranch = error.schemaPath.includes('/oneOf/');
    if (error.keyword === 'oneOf') {
      const types = branchTypes.get(error.instancePath);
      if (types && !deeper(error.instancePath, error)) {
        lines.push(`${error.instancePath || '(document)'} must be ${types.join(' or ')}`);
      }
      continue;
    }
    if (inBranch && error.keyword === 'type') {
      const list = branchTypes.get(error.instancePath) ?? [];
      list.push(String((error.params as { type: unknown }).type));
      branchTypes.set(error.instancePath, list);
      continue;
    }
    const line = describe(error);
    if (!lines.includes(line)) lines.push(line);
  }
  const shown = lines.slice(0, MAX_REPORTED).join('; ');
  const more = lines.length - MAX_REPORTED;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

/** The checks JSON Schema cannot express: columns of equal length, seqs strictly ascending. */
function crossFieldErrors(doc: ResultsDocument): string[] {
  const errors: string[] = [];
  const { seq, label, confidence } = doc.predictions;
  if (label.length !== seq.length || confidence.length !== seq.length) {
    errors.push(
      `/predictions columns must have equal lengths (seq ${seq.length}, label ${label.length}, confidence ${confidence.length})`,
    );
  }
  for (let i = 1; i < seq.length; i++) {
    if ((seq[i] as number) <= (seq[i - 1] as number)) {
      errors.push(
        `/predictions/seq/${i} must be greater than the previous seq (${seq[i - 1]}): sorted, no repeats`,
      );
      break;
    }
  }
  for (const [i, range] of doc.reconciliation.missingRanges.entries()) {
    if (range[0] > range[1]) errors.push(`/reconciliation/missingRanges/${i} must have from <= to`);
  }
  return errors;
}

/**
 * Validates an untrusted results document. On failure `errors` is one line naming the first failing paths
 * (JSON Pointer), e.g. "/counts/received must be integer; /sessionId is required".
 */
export function validateResultsDocument(doc: unknown): ResultsValidation {
  const validate = validator();
  if (!validate(doc)) {
    return { ok: false, errors: summarize(validate.errors ?? []) || 'document is invalid' };
  }
  const document = doc as ResultsDocument;
  const extra = crossFieldErrors(document);
  if (extra.length > 0) return { ok: false, errors: extra.slice(0, MAX_REPORTED).join('; ') };
  return { ok: true, document };
}
