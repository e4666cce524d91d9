/**
 * `framesift run`: one session from start to results. This file only wires the parts together:
 * the models (warmed before `start`), the client session (connect, start, stop, end), ingest (listener →
 * frame ring → micro-batches), the routing of every result (ledger, recorder, unique store, metrics) and
 * finishing (results folder, submission, score, summary) from the document in memory.
 */
import { availableParallelism } from 'node:os';
import { UserError, errorMessage } from '../common/errors.js';
import type { RunConfig } from '../common/config.js';
import type { FrameRing } from '../common/frame-ring.js';
import { loggerFor } from '../common/logger.js';
import { useFfmpegBinaries } from '../common/ffmpeg.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { SessionLedger } from '../common/session/index.js';
import { createAnalysisPool, defaultThreads, type AnalysisPool } from '../analysis/index.js';
import { parseChangeOptions, type Method, type StreamDeduper } from '../dedupe/index.js';
import {
  ClientSession,
  createIngest,
  pipelineMetrics,
  type Ingest,
  type SessionFinish,
} from '../processing/index.js';
import { SessionRecorder } from '../results/index.js';
import { finishSession } from './run/finish.js';
import { printPipelineResult } from './run/report.js';
import {
  DEFAULT_CLASSIFIER,
  PHOTO_EMBEDDER,
  analysisPlan,
  createDeduper,
  modelFileInfo,
  precheckModel,
  poolIsolation,
  warmModels,
} from './run/plan.js';
import { createResultRouting } from './run/routing.js';
import { openLiveSurface, showSession } from './run/live-surface.js';
import type { PipelineOptions, PipelineResult } from './run/types.js';
import { pipelineConfig, startRequestOf, type PipelineConfig } from './run/config.js';

export type { PipelineOptions, PipelineResult } from './run/types.js';
export { pipelineConfig, type PipelineConfig } from './run/config.js';
export { PHOTO_EMBEDDER, analysisPlan, type AnalysisPlan } from './run/plan.js';

const log = loggerFor('run');

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
  useFfmpegBinaries({ ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath });

  // The live page, the /api routes and the search index: the run's own on --metrics-port, or the app's.
  const surface = await openLiveSurface(config, runConfig, options);
  const { page } = surface;
  let deduper: StreamDeduper | undefined;
  page.sessionStarting();
  // The page's Stop ends the session as Ctrl-C does.
  const stopper = new AbortController();
  options.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
  if (options.signal?.aborted) stopper.abort();

  const threads = config.workers ?? defaultThreads(availableParallelism());
  let pool: AnalysisPool | undefined;
  let ringPool: LazyRingPool | undefined;
  let client: ClientSession | undefined;
  let ingest: Ingest | undefined;
  try {
    const poolOf = (isolation: AnalysisPool['isolation']): AnalysisPool =>
      createAnalysisPool({ threads, modelsDir: config.modelsDir, testHooks: options.testHooks, isolation });
    pool = poolOf(poolIsolation(config));
    let warm = await warmModels(pool, model, config, { loadMs: 0 });
    const { url, request } = startRequestOf(config);
    client = await ClientSession.start(url, request, config.token);
    const { session } = client;
    options.onSession?.(session);
    const plan = analysisPlan(config, session);
    log.info('analysis plan', { ...plan, model: typeof model === 'string' ? model : model.path });
    try {
      const isolation = poolIsolation(config, plan);
      if (pool.isolation !== isolation) {
        // The source's name misled the guess: the session's frames need the other kind of pool.
        log.info('worker pool replaced for the session', { from: pool.isolation, to: isolation });
        await pool.destroy();
        pool = poolOf(isolation);
        warm = { loadMs: warm.loadMs };
      }
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
        plan.classifierEmbedding,
      );
    // Each saved uniques folder (--save-name, POST /api/save, the page) goes into the index (--index).
    const { searchIndex } = surface;
    if (deduper && searchIndex) deduper.onSaved((save) => searchIndex.indexSaved([save.folder]));
    if (pool.isolation === 'processes') ringPool = lazyRingPool(() => poolOf('threads'), config.method);
    const routing = createResultRouting({
      pool,
      ...(ringPool ? { ringPool: ringPool.get } : {}),
      plan,
      model,
      method: config.method,
      change,
      ledger,
      recorder,
      deduper,
      streamId: session.source,
      onProgress: options.onProgress,
      onFrame: (frame) => page.frame(frame),
    });
    ingest = createIngest({
      dims: session,
      ringSlots: config.ringSlots,
      ringPolicy: config.ringPolicy,
      batchSize: config.batchSize,
      batchWaitMs: config.batchWaitMs,
      maxInFlight: pool.threads * 2,
      ledger,
      run: routing.run,
    });
    // Processes get copies of the frames instead (routing.ts).
    if (pool.isolation === 'threads') pool.attachRing(ingest.ring);

    let finalSent: number | null | undefined = undefined;
    showSession(page, {
      session,
      mode: config.mode,
      deduper,
      ledger,
      finalSent: () => finalSent,
      control: client.control,
      stop: () => stopper.abort(),
    });

    const streamStart = performance.now();
    const finish: SessionFinish = await client.stream(ingest.listener, stopper.signal);
    finalSent = finish.sent;
    await ingest.drain();
    const streamMs = performance.now() - streamStart;
    const endedAt = Date.now();

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
      saveOptions: { saveAs: config.saveAs, frames: config.saveFrames },
      control:
        finish.ending.kind === 'lost' && finish.ending.reason === 'control-closed'
          ? undefined
          : client.control,
      skipResults: options.skipResults,
    });
    page.sessionEnded({
      stopped: finish.stoppedByUser,
      ...(finished.scored ? { accuracy: finished.scored.accuracy } : {}),
      ...(finish.failure ? { error: finish.failure } : {}),
    });
    return {
      sessionId: session.sessionId,
      session,
      sent: finish.sent,
      ledger,
      reconciliation: finished.outcome.reconciliation,
      verdict: finished.outcome.verdict,
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
      ...(finished.written ? { written: finished.written } : {}),
      ...(finished.scored ? { scored: finished.scored } : {}),
      ...(finished.submissionError ? { submissionError: finished.submissionError } : {}),
      ...(finished.summary ? { summary: finished.summary } : {}),
    };
  } catch (err) {
    if (page.state === 'starting' || page.state === 'streaming' || page.state === 'stopping') {
      page.sessionEnded({ stopped: false, error: errorMessage(err) });
    }
    throw err;
  } finally {
    ingest?.close();
    client?.close();
    await pool?.destroy();
    await ringPool?.destroy();
    // Saves in progress (an API save may be encoding a video) finish before the API goes away.
    await deduper?.close();
    await surface.close();
  }
}

interface LazyRingPool {
  get(ring: FrameRing): Promise<AnalysisPool>;
  destroy(): Promise<void>;
}

/**
 * The thread pool on the ring that a session on processes sends its batches of raw frames to (routing.ts),
 * started on the first such batch, with the photo embedder warmed for cnn.
 */
function lazyRingPool(startThreads: () => AnalysisPool, method: Method): LazyRingPool {
  let started: Promise<AnalysisPool> | undefined;
  return {
    get(ring) {
      return (started ??= (async () => {
        const threads = startThreads();
        log.info('thread pool started for raw frames', { workers: threads.threads });
        threads.attachRing(ring);
        try {
          if (method === 'cnn') await threads.warmup(PHOTO_EMBEDDER);
        } catch (err) {
          await threads.destroy();
          throw err;
        }
        return threads;
      })());
    },
    async destroy() {
      await started?.then(
        (threads) => threads.destroy(),
        () => undefined,
      );
    },
  };
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
    printPipelineResult(result, config.json);
    if (result.failure) throw new UserError(result.failure);
    if (result.submissionError) {
      throw new UserError(
        `session ${result.sessionId}: submitting results failed: ${result.submissionError}`,
      );
    }
    if (!result.verdict.complete) {
      log.warn('session incomplete', { sessionId: result.sessionId, reasons: result.verdict.reasons });
      // A stop the user asked for is not a failure; anything else that left the session incomplete is,
      // and the exit says so in one line, as results.json, summary.md and the summary above do.
      if (result.verdict.reasons.some((reason) => reason !== 'stopped')) {
        const where = result.written ? `; results in ${result.written.folder}, marked incomplete` : '';
        throw new UserError(
          `session ${result.sessionId} incomplete (${result.verdict.reasons.join(', ')}): ${result.verdict.explanation}${where}`,
          INCOMPLETE_EXIT_CODE,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
