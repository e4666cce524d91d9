/**
 * Which tasks a `run` session needs, and the models behind them, loaded and warmed on the workers before
 * the session starts (so a slow model load never counts against the server's session timeout).
 */
import { UserError } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import {
  loadManifest,
  locateModelFile,
  verifyModelFile,
  type AnalysisPool,
  type ModelRef,
  type WarmupResult,
} from '../../analysis/index.js';
import {
  KeypointCheck,
  StreamDeduper,
  defaultThreshold,
  type ChangeOptions,
  type Method,
  type Metric,
} from '../../dedupe/index.js';
import type { PipelineConfig } from './config.js';

const log = loggerFor('run.plan');

/** The classifier of Fashion-MNIST streams (models/manifests/fashion-mnist-cnn.json). */
export const DEFAULT_CLASSIFIER = 'fashion-mnist-cnn';

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

export interface PlanConfig {
  mode: 'classify' | 'dedupe' | 'both';
  method: Method;
}

export function analysisPlan(
  config: PlanConfig,
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

/** Fails fast, before contacting the server, when the classifier's file is missing or not the expected one. */
export async function precheckModel(model: ModelRef, modelsDir: string): Promise<void> {
  if (typeof model !== 'string') return;
  const manifest = loadManifest(model);
  if (!manifest.outputs.logits) {
    throw new UserError(`model "${model}" has no logits output: expected a classifier for --classifier`);
  }
  await verifyModelFile(manifest, locateModelFile(manifest, modelsDir));
}

/** A source whose name says Fashion-MNIST-like frames (all the name can tell before the session starts). */
function fashionLikeSource(config: { source?: string }): boolean {
  return config.source === undefined || /fashion-mnist/i.test(config.source);
}

/**
 * The kind of worker pool a session needs. Classify tasks read frames in place from the ring, which only
 * threads share; a session that only computes photo features sends copies of its frames to processes,
 * which decode side by side faster than threads of one process (analysis/process-pool.ts). Before the
 * session starts, the guess comes from --mode and the source's name.
 */
export function poolIsolation(
  config: PlanConfig & { source?: string },
  plan?: AnalysisPlan,
): 'threads' | 'processes' {
  const ringTasks = plan ? plan.classify : config.mode !== 'dedupe' || fashionLikeSource(config);
  return ringTasks ? 'threads' : 'processes';
}

/** The models warmed so far: the classifier's and the photo embedder's warm-up results. */
export interface WarmModels {
  classifier?: WarmupResult[];
  embedder?: WarmupResult[];
  /** Time spent loading and warming, ms. */
  loadMs: number;
}

/**
 * Warms what the session may need. Before `start` the frame size is not known yet: the classifier is
 * warmed whenever it can be used; the photo embedder when dedupe uses cnn on a source that is not
 * Fashion-MNIST. Called again with the plan once the session is announced, it warms whatever is still
 * missing (a photo source the name did not reveal).
 */
export async function warmModels(
  pool: AnalysisPool,
  model: ModelRef,
  config: PlanConfig & { source?: string },
  warm: WarmModels,
  plan?: AnalysisPlan,
): Promise<WarmModels> {
  const started = performance.now();
  const fashionLike = fashionLikeSource(config);
  const needClassifier = plan
    ? plan.classify
    : config.mode !== 'dedupe' || (config.method === 'cnn' && fashionLike);
  const needEmbedder = plan
    ? plan.images && config.method === 'cnn'
    : config.mode !== 'classify' && config.method === 'cnn' && !fashionLike;
  const next = { ...warm };
  if (needClassifier && !warm.classifier) next.classifier = await pool.warmup(model);
  if (needEmbedder && !warm.embedder) next.embedder = await pool.warmup(PHOTO_EMBEDDER);
  next.loadMs = warm.loadMs + (performance.now() - started);
  if (next.classifier !== warm.classifier || next.embedder !== warm.embedder) {
    log.info('models warmed', {
      classifier: next.classifier ? (typeof model === 'string' ? model : model.path) : undefined,
      embedder: next.embedder ? PHOTO_EMBEDDER : undefined,
      afterStart: plan !== undefined,
      ms: Math.round(next.loadMs),
    });
  }
  return next;
}

/** The results document's `model`: the classifier's file and its verified sha256. */
export function modelFileInfo(
  model: ModelRef,
  warm: WarmupResult | undefined,
): { file: string; sha256: string } | null {
  if (!warm) return null;
  const file = warm.modelPath.split(/[\\/]/).pop()!;
  return { file, sha256: warm.sha256 ?? (typeof model === 'string' ? '' : 'unverified') };
}

/** The unique store of a dedupe session, with the model its embeddings come from. */
export function createDeduper(
  config: PipelineConfig,
  change: ChangeOptions,
  embedder: ModelRef,
  warm: { modelPath: string; sha256: string | null } | undefined,
  /** cnn on 28×28 gray frames by the classifier's embedding: its own default threshold. */
  classifierEmbedding = false,
): StreamDeduper {
  return new StreamDeduper({
    method: config.method as Method,
    change,
    metric: config.metric as Metric,
    threshold: config.threshold ?? defaultThreshold(config.method, config.metric, classifierEmbedding),
    approximateAbove: config.approximateAbove,
    outDir: config.out,
    savesPerMinute: config.saveRate,
    maxSaveBytes: config.maxSaveBytes,
    imageSaveQuality: config.imageSaveQuality,
    videoCodec: config.videoCodec,
    videoFps: config.videoFps,
    retainAllFrames: config.saveFrames === 'all',
    // Photo frames only: 28×28 classifier streams never reach it.
    keypoints: classifierEmbedding ? undefined : KeypointCheck.create(config.keypoints, config),
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
