/** The `run` options the pipeline reads, with the defaults of src/common/config.ts filled in. */
import { resolveConfig, type RunConfig } from '../../common/config.js';
import type { Method, Metric } from '../../dedupe/index.js';
import type { StartRequest } from '../../processing/index.js';

/** RunConfig types every option as optional; the pipeline's view has the defaulted ones set. */
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
  /** The keypoint check of photo dedupe (auto: where its native part is built). */
  keypoints: 'auto' | 'on' | 'off';
  imageSaveQuality: number;
  saveName?: string;
  changeOptions?: string;
  /** Similar-image index the saved uniques go into (and the HTTP port serves search over). */
  index?: string;
  annFile?: string;
  maxUploadBytes?: number;
  saveRate?: number;
  maxSaveBytes?: number;
  allowedOrigins?: string;
  token?: string;
  /** Saves as video and video sources (docs/video.md). */
  saveAs?: 'images' | 'video';
  saveFrames?: 'kept' | 'all';
  videoCodec?: string;
  videoFps?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

const REQUIRED = [
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
  'keypoints',
] as const;

/** `config` over the option defaults of src/common/config.ts. */
export function pipelineConfig(config: Partial<RunConfig> | Partial<PipelineConfig>): PipelineConfig {
  const defaults = resolveConfig('run', {}, {}) as Partial<PipelineConfig>;
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  const merged = { ...defaults, ...given } as Partial<PipelineConfig>;
  for (const key of REQUIRED) {
    if (merged[key] === undefined) throw new Error(`run: option ${key} has no value`);
  }
  return merged as PipelineConfig;
}

/** The control URL and `start` request of a run: count and source only when given (the server's defaults). */
export function startRequestOf(config: PipelineConfig): { url: string; request: StartRequest } {
  return {
    url: `ws://${config.host}:${config.controlPort}/`,
    request: {
      ...(config.count !== undefined ? { count: config.count } : {}),
      fps: config.fps,
      ...(config.source !== undefined ? { source: config.source } : {}),
    },
  };
}
