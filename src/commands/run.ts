/**
 * `framesift run`: connect to a stream server, receive every frame of a session into the shared frame ring,
 * classify it on the worker pool in micro-batches, hand each result to the results stage, then write the
 * results folder, submit results.json over the control socket, wait for `scored` and print the summary.
 *
 * Accounting is exact: received = processed + dropped(by reason) + invalid(by reason); seqs never seen are
 * missing; the server's `sent` is compared with `received`.
 */
import { availableParallelism } from 'node:os';
import { resolveConfig, type RunConfig } from '../common/config.js';
import { FrameRing, slotBytesFor } from '../common/frame-ring.js';
import { UserError, errorMessage } from '../common/errors.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import { collectProcessMetrics } from '../common/metrics.js';
import type { EndMessage, ScoredMessage, SessionMessage } from '../common/wire/control.js';
import {
  createAnalysisPool,
  defaultThreads,
  featureOf,
  type AnalysisPool,
  type ClassifyResult,
  type ImagesResult,
  type ModelRef,
  type WarmupResult,
  type WorkerTestHooks,
} from '../analysis/index.js';
import { loadManifest, locateModelFile, verifyModelFile } from '../analysis/index.js';
import {
  ControlClient,
  FrameListener,
  MicroBatcher,
  SessionAccounting,
  pipelineMetrics,
  startHttpServer,
  type Batch,
  type HttpServer,
} from '../processing/index.js';
import {
  StreamDeduper,
  defaultThreshold,
  handleDedupeApi,
  parseChangeOptions,
  type Feature,
  type Method,
  type Metric,
} from '../dedupe/index.js';
import {
  SeqBitmap,
  SessionRecorder,
  formatTerminalSummary,
  writeResultsFolder,
  writeScore,
  writeSubmissionError,
  type SessionOutcome,
  type WrittenResults,
} from '../results/index.js';

import { attachSearchIndex } from './run-index.js';

const log = loggerFor('run');

/** The classifier of Fashion-MNIST streams (models/manifests/fashion-mnist-cnn.json). */
export const DEFAULT_CLASSIFIER = 'fashion-mnist-cnn';

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
  accounting: SessionAccounting;
  recorder: SessionRecorder;
  /** Session wall time: frame socket open → last result consumed. */
  streamMs: number;
  batches: number;
  /** Times the frame socket was paused because the ring was full (block policy). */
  pauses: number;
  stoppedByUser: boolean;
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

/** The run options the pipeline reads, defaults filled in (RunConfig types every option as optional). */
export interface PipelineConfig {
  host: string;
  framesPort: number;
  controlPort: number;
  source?: string;
  count?: number;
  fps: number;
  mode: 'classify' | 'dedupe' | 'both';
  out: string;
  metricsPort: number;
  modelsDir: string;
  workers?: number;
  batchSize: number;
  batchWaitMs: number;
  ringSlots: number;
  ringPolicy: 'block' | 'drop-oldest';
  classifier: string;
  method: Method;
  metric: Metric;
  threshold?: number;
  approximateAbove: number;
  imageSaveQuality: number;
  saveName?: string;
  changeOptions?: string;
  /** Similar-image index the saved uniques go into (and the HTTP port serves search over). */
  index?: string;
  annFile?: string;
  maxUploadBytes?: number;
}

/** `config` over the option defaults of src/common/config.ts. */
export function pipelineConfig(config: Partial<RunConfig> | Partial<PipelineConfig>): PipelineConfig {
  const defaults = resolveConfig('run', {}, {}) as Partial<PipelineConfig>;
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const merged = { ...defaults, ...given } as Partial<PipelineConfig>;
  for (const key of [
    'host',
    'framesPort',
    'controlPort',
    'fps',
    'mode',
    'out',
    'metricsPort',
    'modelsDir',
    'batchSize',
    'batchWaitMs',
    'ringSlots',
    'ringPolicy',
  ] as const) {
    if (merged[key] === undefined) throw new Error(`run: option ${key} has no value`);
  }
  return merged as PipelineConfig;
}

/** The photo embedder of dedupe streams that are not Fashion-MNIST-like. */
export const PHOTO_EMBEDDER = 'mobilenet-v3-small-075';

/** Which tasks a session needs, from --mode, --method and the frames the session announced. */
export interface AnalysisPlan {
  /** Run the classify task. */
  classify: boolean;
  /** Record labels (mode classify or both). */
  labels: boolean;
  /** The classifier's embedding output is the dedupe feature (cnn on 28×28 gray frames). */
  classifierEmbedding: boolean;
  /** Run the images task for dedupe features (photos, or a method other than cnn). */
  images: boolean;
  dedupe: boolean;
}

export function analysisPlan(
  config: Pick<PipelineConfig, 'mode' | 'method'>,
  dims: { width?: number; height?: number; channels?: number },
): AnalysisPlan {
  const dedupe = config.mode !== 'classify';
  // Fashion-MNIST-like frames: the project's classifier's own embedding fits them better than a photo model.
  const smallGray = dims.width === 28 && dims.height === 28 && dims.channels === 1;
  const classifierEmbedding = dedupe && config.method === 'cnn' && smallGray;
  return {
    classify: config.mode !== 'dedupe' || classifierEmbedding,
    labels: config.mode !== 'dedupe',
    classifierEmbedding,
    images: dedupe && !classifierEmbedding,
    dedupe,
  };
}

function embeddingFeature(result: ClassifyResult, i: number): Feature {
  const d = result.embeddingDim;
  if (!result.embeddings || d === 0) throw new Error('classifier returned no embedding for dedupe');
  return { kind: 'embedding', vector: result.embeddings.slice(i * d, (i + 1) * d) };
}

function modelFileInfo(
  model: ModelRef,
  warm: WarmupResult | undefined,
): { file: string; sha256: string } | null {
  if (!warm) return null;
  const file = warm.modelPath.split(/[\\/]/).pop()!;
  return { file, sha256: warm.sha256 ?? (typeof model === 'string' ? '' : 'unverified') };
}

/** Fails fast, before contacting the server, when the classifier's file is missing or not the expected one. */
async function precheckModel(model: ModelRef, modelsDir: string): Promise<void> {
  if (typeof model !== 'string') return;
  const manifest = loadManifest(model);
  if (!manifest.outputs.logits) {
    throw new UserError(`model "${model}" has no logits output: expected a classifier for --classifier`);
  }
  await verifyModelFile(manifest, locateModelFile(manifest, modelsDir));
}

/**
 * Runs one session end to end. The returned result holds the accounting and, unless `skipResults`, the
 * results folder, the server's score and the terminal summary.
 */
export async function runPipeline(
  runConfig: Partial<RunConfig> | Partial<PipelineConfig>,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const config = pipelineConfig(runConfig);
  const changeOptions = parseChangeOptions(config.changeOptions);
  const startedAt = Date.now();
  const model = options.model ?? config.classifier ?? DEFAULT_CLASSIFIER;
  if (config.mode !== 'dedupe') await precheckModel(model, config.modelsDir);
  if (config.saveName !== undefined && config.mode === 'classify') {
    throw new UserError(`--save-name ${config.saveName}: saving uniques needs --mode dedupe or both`);
  }
  collectProcessMetrics();

  const http = await startHttpServer({ host: '127.0.0.1', port: config.metricsPort });
  log.info('metrics served', { url: `${http.url}/metrics`, port: http.port });
  // The dedupe stage's /api routes (status, uniques, save) answer 409 until a dedupe session runs.
  let deduper: StreamDeduper | undefined;
  http.prefix('/api/', (req, res) => {
    handleDedupeApi(req, res, () => deduper);
  });
  const searchIndex = config.index
    ? await attachSearchIndex(http, { ...config, index: config.index }).catch(async (err: unknown) => {
        await http.close();
        throw err;
      })
    : undefined;
  options.onMetricsServer?.(http);

  let control: ControlClient | undefined;
  let pool: AnalysisPool | undefined;
  let listener: FrameListener | undefined;
  let batcher: MicroBatcher | undefined;
  try {
    control = await ControlClient.connect(`ws://${config.host}:${config.controlPort}/`);
    const session = await control.start({
      ...(config.count !== undefined ? { count: config.count } : {}),
      fps: config.fps,
      ...(config.source !== undefined ? { source: config.source } : {}),
    });
    const sessionId = session.sessionId;
    options.onSession?.(session);
    log.info('session started', {
      sessionId,
      count: session.count,
      fps: session.fps,
      source: session.source,
    });

    // The pool and the ring: slots sized from the announced frames; batches bounded so frames can still
    // queue behind the ones in flight.
    const threads = config.workers ?? defaultThreads(availableParallelism());
    const maxInFlight = threads * 2;
    const slots = config.ringSlots;
    const batchSize = Math.max(1, Math.min(config.batchSize, Math.floor(slots / (maxInFlight + 1))));
    if (batchSize < config.batchSize) {
      log.warn('batch size lowered to fit the ring', {
        asked: config.batchSize,
        batchSize,
        ringSlots: slots,
      });
    }
    const ring = FrameRing.create({ slots, slotBytes: slotBytesFor(session, slots) });
    pool = createAnalysisPool({ threads, modelsDir: config.modelsDir, ring, testHooks: options.testHooks });
    const plan = analysisPlan(config, session);
    log.info('analysis plan', { ...plan, model: typeof model === 'string' ? model : model.path });
    const modelLoadStart = performance.now();
    let warm: WarmupResult[] = [];
    let embedderWarm: WarmupResult[] = [];
    try {
      if (plan.classify) warm = await pool.warmup(model);
      if (plan.images && config.method === 'cnn') embedderWarm = await pool.warmup(PHOTO_EMBEDDER);
    } catch (err) {
      await control.stop(sessionId).catch(() => undefined);
      throw err;
    }
    const modelLoadMs = performance.now() - modelLoadStart;

    const accounting = new SessionAccounting();
    const recorder = new SessionRecorder();
    if (plan.dedupe) {
      const threshold = config.threshold ?? defaultThreshold(config.method, config.metric);
      const embedder = plan.images ? embedderWarm[0] : warm[0];
      deduper = new StreamDeduper({
        method: config.method,
        change: changeOptions,
        metric: config.metric,
        threshold,
        approximateAbove: config.approximateAbove,
        outDir: config.out,
        imageSaveQuality: config.imageSaveQuality,
        model:
          config.method === 'cnn' && embedder
            ? {
                name: plan.images ? PHOTO_EMBEDDER : typeof model === 'string' ? model : 'classifier',
                file: embedder.modelPath.split(/[\\/]/).pop()!,
                sha256: embedder.sha256 ?? '',
              }
            : null,
      });
    }
    const activeDeduper = deduper;
    const workerMs = { infer: 0, prep: 0 };
    const streamId = session.source;
    const activePool = pool;
    const consume = (
      batch: Batch,
      classified: ClassifyResult | undefined,
      images: ImagesResult | undefined,
    ): void => {
      if (classified) pipelineMetrics.inferenceSeconds.observe(classified.inferMs / 1000);
      else if (images) pipelineMetrics.inferenceSeconds.observe(images.inferMs / 1000);
      workerMs.infer += (classified?.inferMs ?? 0) + (images?.inferMs ?? 0);
      workerMs.prep += (classified?.prepMs ?? 0) + (images?.prepMs ?? 0);
      const now = Date.now();
      // A frame that failed in either task is counted once, as invalid with the first reason.
      let failed: Set<number> | undefined;
      for (const f of [...(classified?.failed ?? []), ...(images?.failed ?? [])]) {
        failed ??= new Set();
        if (failed.has(f.index)) continue;
        failed.add(f.index);
        accounting.countInvalid(f.reason);
        log.warn('frame could not be analysed', { reason: f.reason, message: f.message });
      }
      for (let i = 0; i < batch.slots.length; i++) {
        if (failed?.has(i)) continue;
        const slot = batch.slots[i]!;
        const sentAt = ring.sentAtOf(slot);
        const seq = ring.seqOf(slot);
        const image = ring.frame(slot);
        if (plan.labels && classified) {
          recorder.predicted(seq, classified.labels[i]!, classified.confidences[i]!, image, sentAt, now);
        } else {
          recorder.processed(sentAt, now);
        }
        if (activeDeduper) {
          const feature =
            plan.images && images ? featureOf(images, i, config.method) : embeddingFeature(classified!, i);
          activeDeduper.accept({ streamId, seq, feature, image });
        }
        pipelineMetrics.endToEndSeconds.observe((now - sentAt) / 1000);
      }
      accounting.countProcessed(batch.slots.length - (failed?.size ?? 0));
      options.onProgress?.(accounting.processed);
    };
    // The unique store decides in seq order: batches are consumed in dispatch order (= arrival order).
    let turn: Promise<unknown> = Promise.resolve();
    batcher = new MicroBatcher({
      ring,
      batchSize,
      batchWaitMs: config.batchWaitMs,
      maxInFlight,
      run: (batch) => {
        const sidecars = ring.sidecarsOf(batch.slots);
        const work = Promise.all([
          plan.classify
            ? activePool.run({
                kind: 'classify',
                model,
                slots: batch.slots,
                sidecars,
                embedding: plan.classifierEmbedding,
              })
            : undefined,
          plan.images
            ? activePool.run({
                kind: 'images',
                method: config.method,
                ...(config.method === 'cnn' ? { model: PHOTO_EMBEDDER } : {}),
                ...(config.method === 'change' ? { change: changeOptions } : {}),
                slots: batch.slots,
                sidecars,
              })
            : undefined,
        ]);
        if (!activeDeduper) return work.then(([c, im]) => consume(batch, c, im));
        const done = turn.then(() => work).then(([c, im]) => consume(batch, c, im));
        turn = done.catch(() => undefined);
        return done;
      },
      onBatchError: (batch) => accounting.countDropped('worker-error', batch.slots.length),
      onReleased: () => listener?.onSlotsReleased(),
    });
    listener = new FrameListener({
      ring,
      policy: config.ringPolicy,
      accounting,
      batcher,
      ...(session.count !== undefined ? { count: session.count } : {}),
    });

    // Ctrl-C / abort: ask the server to stop, finish what was received, then write results.
    let stoppedByUser = false;
    let stopped: Promise<number | null> | undefined;
    let onStopRequested!: (value: 'stop') => void;
    const stopRequested = new Promise<'stop'>((resolve) => (onStopRequested = resolve));
    const activeControl = control;
    const stop = (): void => {
      if (stoppedByUser) return;
      stoppedByUser = true;
      onStopRequested('stop');
      log.warn('stopping the session', { sessionId });
      stopped = activeControl.stop(sessionId).then(
        (m) => m.sent,
        (err: unknown) => {
          log.warn('stop not confirmed', { error: errorMessage(err) });
          return null;
        },
      );
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.signal?.aborted) stop();

    const streamStart = performance.now();
    await listener.connect(session.framesUrl);
    const controlClosed = new Promise<'control-closed'>((resolve) =>
      activeControl.once('close', () => resolve('control-closed')),
    );
    const first = await Promise.race([listener.closed, controlClosed, stopRequested]);
    if (first === 'control-closed' && !stoppedByUser) {
      throw new UserError(`session ${sessionId} failed: the control connection closed mid-session`);
    }
    let close = { code: 1006, reason: '' };
    if (stoppedByUser) {
      // The server closes the frame socket after "stop"; what the socket still holds back is not waited for.
      const frameClose = await Promise.race([listener.closed, sleepMs(2000).then(() => null)]);
      if (frameClose === null) listener.terminate();
      listener.discardBacklog('stopped');
    } else if (typeof first === 'object') {
      close = first;
    }
    let sent: number | null = null;
    if (stoppedByUser) {
      sent = (await stopped) ?? null;
    } else {
      // A normal close (1000) comes with "end" on the control socket, possibly a moment later; any other
      // close code means the server gave up on the session.
      const end = await Promise.race([
        control.waitForEnd(),
        sleepMs(close.code === 1000 ? 5000 : 500).then(() => null as EndMessage | null),
      ]);
      if (!end) {
        throw new UserError(
          `session ${sessionId} failed: the frame socket closed (code ${close.code}${close.reason ? `, ${close.reason}` : ''}) without an "end" message`,
        );
      }
      sent = end.sent;
    }
    await batcher.drain();
    batcher.close();
    const streamMs = performance.now() - streamStart;
    const endedAt = Date.now();

    const reconciliation = accounting.reconcile(sent);
    log.info('session finished', {
      sessionId,
      ...accounting.counts(sent),
      reconciled: reconciliation.reconciled,
      streamMs: Math.round(streamMs),
      batches: batcher.batchesDispatched,
      pauses: listener.pauses,
    });

    const result: PipelineResult = {
      sessionId,
      session,
      sent,
      accounting,
      recorder,
      streamMs,
      batches: batcher.batchesDispatched,
      pauses: listener.pauses,
      stoppedByUser,
      deduper,
      workerMs,
      threads: pool.threads,
      intraOpThreads: pool.intraOpThreads,
      batchSize,
    };
    if (options.skipResults) return result;

    const savedFolders: string[] = [];
    if (deduper && config.saveName !== undefined) {
      const saved = await deduper.save(config.saveName);
      savedFolders.push(saved.folder);
    }
    if (deduper && searchIndex)
      await searchIndex.indexSaved(deduper.status().saves.map((save) => save.folder));
    const receivedSeqs = new SeqBitmap();
    for (let seq = 0; seq <= accounting.maxSeq; seq++) if (accounting.hasSeen(seq)) receivedSeqs.mark(seq);
    const outcome: SessionOutcome = {
      sessionId,
      mode: config.mode,
      source: {
        name: session.source,
        ...(session.width !== undefined ? { width: session.width } : {}),
        ...(session.height !== undefined ? { height: session.height } : {}),
        ...(session.channels === 1 || session.channels === 3 ? { channels: session.channels } : {}),
        requestedCount: config.count ?? null,
        fps: session.fps,
      },
      model: plan.classify ? modelFileInfo(model, warm[0]) : null,
      sent,
      counts: {
        received: accounting.received,
        processed: accounting.processed,
        dropped: { ...accounting.dropped },
        invalid: { ...accounting.invalid },
      },
      receivedSeqs,
      predictions: recorder.predictions,
      samples: recorder.samples,
      timings: { startedAt, endedAt, modelLoadMs, streamMs },
      ...(deduper
        ? {
            dedupe: {
              method: config.method,
              metric: config.metric,
              threshold: deduper.status().threshold,
              uniques: deduper.status().uniques,
              duplicates: deduper.status().duplicates,
              savedFolders: [...deduper.status().saves.map((save) => save.folder)],
            },
          }
        : {}),
    };
    const written = await writeResultsFolder(config.out, outcome);
    result.written = written;
    try {
      const scored = await control.submit(sessionId, written.document as unknown as Record<string, unknown>);
      result.scored = scored;
      const score = await writeScore(written.folder, scored);
      result.summary = formatTerminalSummary({ document: written.document, folder: written.folder, score });
    } catch (err) {
      result.submissionError = errorMessage(err);
      await writeSubmissionError(written.folder, err);
      result.summary = formatTerminalSummary({
        document: written.document,
        folder: written.folder,
        submissionError: result.submissionError,
      });
      throw new UserError(`session ${sessionId}: submitting results failed: ${result.submissionError}`);
    }
    return result;
  } finally {
    batcher?.close();
    listener?.terminate();
    control?.close();
    await pool?.destroy();
    await searchIndex?.close();
    await http.close();
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

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
    if (!result.accounting.reconcile(result.sent).reconciled && !result.stoppedByUser) {
      log.warn('session did not reconcile', { sessionId: result.sessionId });
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
