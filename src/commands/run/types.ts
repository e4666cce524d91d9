/** What `runPipeline` (src/commands/run.ts) takes beyond the configuration, and what it returns. */
import type { ModelRef, WorkerTestHooks } from '../../analysis/index.js';
import type { HttpServer } from '../../common/http.js';
import type { LivePage } from '../page/index.js';
import type { RunIndex } from '../run-index.js';
import type { Reconciliation, SessionLedger, SessionVerdict } from '../../common/session/index.js';
import type { ScoredMessage, SessionMessage } from '../../common/wire/control.js';
import type { StreamDeduper } from '../../dedupe/index.js';
import type { SessionRecorder, WrittenResults } from '../../results/index.js';

/** What `runPipeline` needs beyond the command's configuration (tests, benchmarks, the demo). */
export interface PipelineOptions {
  /** The classifier; default fashion-mnist-cnn. */
  model?: ModelRef;
  /** Test-only worker behaviour (a slow worker, a failing batch). */
  testHooks?: WorkerTestHooks;
  /** Stop the session early (Ctrl-C does this for the command). */
  signal?: AbortSignal;
  /** Called once the metrics server listens (tests scrape it mid-session). */
  onMetricsServer?: (server: HttpServer) => void;
  /** Called when the session is announced. */
  onSession?: (session: SessionMessage) => void;
  /** Called after each consumed batch with the frames processed so far. */
  onProgress?: (processed: number) => void;
  /** Skip writing the results folder and submitting (the benchmark's model-free timing). */
  skipResults?: boolean;
  /**
   * The live page to report into, with its HTTP server (`app` keeps both across sessions). Default: the
   * run serves its own page on --metrics-port and closes it when the session is done.
   */
  page?: LivePage;
  /**
   * The similar-image index saves go into, its search API mounted on the page's port (`app` keeps it across
   * sessions). Default: with --index the run opens its own and closes it when the session is done.
   */
  searchIndex?: RunIndex;
}

export interface PipelineResult {
  sessionId: string;
  session: SessionMessage;
  sent: number | null;
  /** Every frame's outcome; `ledger.counts(sent)` are the document's counts. */
  ledger: SessionLedger;
  reconciliation: Reconciliation;
  verdict: SessionVerdict;
  recorder: SessionRecorder;
  /** Session wall time: frame socket open → last result consumed. */
  streamMs: number;
  batches: number;
  /** Times the frame socket was paused because the ring was full (block policy). */
  pauses: number;
  stoppedByUser: boolean;
  /** One line when the session failed (lost, or ended early); the results were still written. */
  failure?: string;
  /** The live unique store of a dedupe session. */
  deduper?: StreamDeduper;
  /** Time the workers spent in inference and in preparing tensors, summed over consumed batches. */
  workerMs: { infer: number; prep: number };
  threads: number;
  intraOpThreads: number;
  batchSize: number;
  written?: WrittenResults;
  scored?: ScoredMessage;
  submissionError?: string;
  summary?: string;
}
