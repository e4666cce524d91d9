/**
 * The conformance kit: runs the behaviours docs/protocol.md documents against any server speaking the
 * framesift protocol and reports each as pass, fail or skip. Public face used by `framesift conformance`
 * and the tests.
 */
import { performance } from 'node:perf_hooks';
import { beginExpiry, CHECKS, type CheckContext, type ReferenceSet } from './checks.js';
import { CheckFailure, Violations } from './peer.js';

/** Every check id, in the order they run. */
export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

export interface ConformanceOptions {
  /** ws://HOST:PORT of the control socket. */
  control: string;
  reference: ReferenceSet;
  /** The server's session timeout (its documented default is 30 s). */
  sessionTimeoutMs: number;
  /** The server's control-message limit (its documented default is 64 MiB). */
  maxPayloadBytes: number;
  /** Run only the checks with these ids (all when empty). */
  only?: string[];
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  outcome: Outcome;
  detail: string;
  ms: number;
}

export interface ConformanceReport {
  control: string;
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
  ok: boolean;
}

const SKIPPED = new Set(['internal']);

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const ctx: CheckContext = {
    control: options.control,
    reference: options.reference,
    sessionTimeoutMs: options.sessionTimeoutMs,
    maxPayloadBytes: options.maxPayloadBytes,
    violations: new Violations(),
    peers: [],
    shared: {},
  };
  const selected = CHECKS.filter((c) => !options.only?.length || options.only.includes(c.id));
  const results: CheckResult[] = [];
  try {
    // The expiry wait overlaps the other checks.
    let expiryError: string | undefined;
    if (selected.some((c) => c.id === 'session-expired')) {
      await beginExpiry(ctx).catch((err: unknown) => (expiryError = (err as Error).message));
    }
    for (const check of selected) {
      const started = performance.now();
      let outcome: Outcome = 'pass';
      let detail: string;
      if (SKIPPED.has(check.id)) {
        outcome = 'skip';
        detail = 'not observable from a client';
      } else if (check.id === 'session-expired' && expiryError) {
        outcome = 'fail';
        detail = expiryError;
      } else {
        try {
          detail = await check.run(ctx);
        } catch (err) {
          outcome = 'fail';
          detail = err instanceof CheckFailure ? err.message : `error: ${(err as Error).message}`;
        }
      }
      results.push({ id: check.id, title: check.title, outcome, detail, ms: performance.now() - started });
    }
  } finally {
    for (const peer of ctx.peers) peer.close();
  }
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  return {
    control: options.control,
    results,
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skip'),
    ok: count('fail') === 0 && results.length > 0,
  };
}

/** The pass/fail table a person reads. */
export function formatReport(report: ConformanceReport): string {
  const idWidth = Math.max(...report.results.map((r) => r.id.length), 5);
  const lines = [`framesift conformance against ${report.control}`, ''];
  for (const r of report.results) {
    const mark = r.outcome === 'pass' ? 'PASS' : r.outcome === 'fail' ? 'FAIL' : 'SKIP';
    lines.push(`${mark}  ${r.id.padEnd(idWidth)}  ${r.title}`);
    lines.push(`      ${' '.repeat(idWidth)}  ${r.detail} (${Math.round(r.ms)} ms)`);
  }
  lines.push('', `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`);
  return lines.join('\n');
}
