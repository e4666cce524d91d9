/**
 * `framesift run`: one session from start to results. This file only wires the parts together:
 * the models (warmed before `start`), the client session (connect, start, stop, end), ingest (listener →
 * frame ring → micro-batches), the routing of every result (ledger, recorder, unique store, metrics) and
 * finishing (results folder, submission, score, summary) from the document in memory.
 */
import { availableParallelism } from 'node:os';
import { UserError } from '../common/errors.js';
import type { RunConfig } from '../common/config.js';
import { startHttpServer, type HttpServer } from '../common/http.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { SessionLedger, type Reconciliation, type SessionVerdict } from '../common/session/index.js';
import type { ScoredMessage, SessionMessage } from '../common/wire/control.js';
import {
  createAnalysisPool,
  defaultThreads,
  type AnalysisPool,
  type ModelRef,
  type WorkerTestHooks,
} from '../analysis/index.js';
import {
  StreamDeduper,
  defaultThreshold,
  parseChangeOptions,
  type Method,
  type Metric,
} from '../dedupe/index.js';
import {
  ClientSession,
  createIngest,
  pipelineMetrics,
  type Ingest,
  type SessionFinish,
} from '../processing/index.js';
import { SessionRecorder, type WrittenResults } from '../results/index.js';
import { mountRunApi } from './run/api-routes.js';
import { finishSession } from './run/finish.js';
import {
  DEFAULT_CLASSIFIER,
  PHOTO_EMBEDDER,
  analysisPlan,
  modelFileInfo,
  precheckModel,
  warmModels,
} from './run/plan.js';
import { createResultRouting } from './run/routing.js';
import { pipelineConfig, type PipelineConfig } from './run/config.js';

export { pipelineConfig, type PipelineConfig } from './run/config.js';
export { DEFAULT_CLASSIFIER, PHOTO_EMBEDDER, analysisPlan, type AnalysisPlan } from './run/plan.js';

const log = loggerFor('run');

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

/**
 * Runs one session end to end. The returned result holds the ledger and, unless `skipResults`, the
 * results folder, the server's score and the terminal summary. A session that fails after it started is
 * still finished (results written, marked incomplete) and reported in `failure`.
 */
export async function runPipeline(
  runConfig: Partial<RunConfig> | Partial<PipelineConfig>,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const config = pipelineConfig(runConfig);
  const change = parseChangeOptions(config.changeOptions);
  const startedAt = Date.now();
  const model = options.model ?? config.classifier ?? DEFAULT_CLASSIFIER;
  if (config.mode !== 'dedupe') await precheckModel(model, config.modelsDir);
  collectProcessMetrics();

  const http = await startHttpServer({ host: '127.0.0.1', port: config.metricsPort });
  let deduper: StreamDeduper | undefined;
  mountRunApi(http, () => deduper);
  options.onMetricsServer?.(http);

  const threads = config.workers ?? defaultThreads(availableParallelism());
  let pool: AnalysisPool | undefined;
  let client: ClientSession | undefined;
  let ingest: Ingest | undefined;
  try {
    pool = createAnalysisPool({ threads, modelsDir: config.modelsDir, testHooks: options.testHooks });
    let warm = await warmModels(pool, model, config, { loadMs: 0 });
    client = await ClientSession.start(`ws://${config.host}:${config.controlPort}/`, {
      ...(config.count !== undefined ? { count: config.count } : {}),
      fps: config.fps,
      ...(config.source !== undefined ? { source: config.source } : {}),
    });
    const { session } = client;
    options.onSession?.(session);
    const plan = analysisPlan(config, session);
    log.info('analysis plan', { ...plan, model: typeof model === 'string' ? model : model.path });
    try {
      warm = await warmModels(pool, model, config, warm, plan);
    } catch (err) {
      await client.control.stop(session.sessionId).catch(() => undefined);
      throw err;
    }

    const ledger = new SessionLedger({ count: session.count, observer: pipelineMetrics.ledgerMetrics });
    const recorder = new SessionRecorder();
    if (plan.dedupe)
      deduper = createDeduper(
        config,
        change,
        plan.images ? PHOTO_EMBEDDER : model,
        plan.images ? warm.embedder?.[0] : warm.classifier?.[0],
      );
    const routing = createResultRouting({
      pool,
      plan,
      model,
      method: config.method,
      change,
      ledger,
      recorder,
      deduper,
      streamId: session.source,
      onProgress: options.onProgress,
    });
    const maxInFlight = pool.threads * 2;
    ingest = createIngest({
      dims: session,
      ringSlots: config.ringSlots,
      ringPolicy: config.ringPolicy,
      batchSize: config.batchSize,
      batchWaitMs: config.batchWaitMs,
      maxInFlight,
      ledger,
      run: routing.run,
    });
    pool.attachRing(ingest.ring);

    const streamStart = performance.now();
    const finish: SessionFinish = await client.stream(ingest.listener, options.signal);
    await ingest.drain();
    const streamMs = performance.now() - streamStart;
    const endedAt = Date.now();

    const result: PipelineResult = {
      sessionId: session.sessionId,
      session,
      sent: finish.sent,
      ledger,
      reconciliation: ledger.reconcile(finish.sent),
      verdict: { complete: false, reasons: [], explanation: '' },
      recorder,
      streamMs,
      batches: ingest.batches,
      pauses: ingest.listener.pauses,
      stoppedByUser: finish.stoppedByUser,
      ...(finish.failure ? { failure: finish.failure } : {}),
      deduper,
      workerMs: routing.workerMs,
      threads: pool.threads,
      intraOpThreads: pool.intraOpThreads,
      batchSize: ingest.batchSize,
    };
    const finished = await finishSession({
      session,
      finish,
      ledger,
      recorder,
      deduper,
      mode: config.mode,
      metric: config.metric,
      requested: { source: config.source, count: config.count },
      model: plan.classify ? modelFileInfo(model, warm.classifier?.[0]) : null,
      timings: { startedAt, endedAt, modelLoadMs: warm.loadMs, streamMs },
      out: config.out,
      saveName: config.saveName,
      control:
        finish.ending.kind === 'lost' && finish.ending.reason === 'control-closed'
          ? undefined
          : client.control,
      skipResults: options.skipResults,
    });
    result.verdict = finished.outcome.verdict;
    result.reconciliation = finished.outcome.reconciliation;
    Object.assign(result, {
      ...(finished.written ? { written: finished.written } : {}),
      ...(finished.scored ? { scored: finished.scored } : {}),
      ...(finished.submissionError ? { submissionError: finished.submissionError } : {}),
      ...(finished.summary ? { summary: finished.summary } : {}),
    });
    return result;
  } finally {
    ingest?.close();
    client?.close();
    await pool?.destroy();
    await http.close();
  }
}

function createDeduper(
  config: PipelineConfig,
  change: ReturnType<typeof parseChangeOptions>,
  embedder: ModelRef,
  warm: { modelPath: string; sha256: string | null } | undefined,
): StreamDeduper {
  return new StreamDeduper({
    method: config.method as Method,
    change,
    metric: config.metric as Metric,
    threshold: config.threshold ?? defaultThreshold(config.method, config.metric),
    approximateAbove: config.approximateAbove,
    outDir: config.out,
    imageSaveQuality: config.imageSaveQuality,
    model:
      config.method === 'cnn' && warm
        ? {
            name: typeof embedder === 'string' ? embedder : 'classifier',
            file: warm.modelPath.split(/[\\/]/).pop()!,
            sha256: warm.sha256 ?? '',
          }
        : null,
  });
}

/** Exit code of a session that ran but is not complete (missing frames, not reconciled, lost, ended early). */
export const INCOMPLETE_EXIT_CODE = 1;

export async function runCommand(config: RunConfig): Promise<void> {
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await runPipeline(config, { signal: abort.signal });
    if (result.summary) humanLogger.info(result.summary);
    if (result.failure) throw new UserError(result.failure);
    if (result.submissionError) {
      throw new UserError(
        `session ${result.sessionId}: submitting results failed: ${result.submissionError}`,
      );
    }
    if (!result.verdict.complete) {
      log.warn('session incomplete', { sessionId: result.sessionId, reasons: result.verdict.reasons });
      // A stop the user asked for is not a failure; anything else that left the session incomplete is.
      if (result.verdict.reasons.some((reason) => reason !== 'stopped'))
        process.exitCode = INCOMPLETE_EXIT_CODE;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
