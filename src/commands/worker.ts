/**
 * `framesift worker --partition P`: one partition's decisions in the bus mode. It waits for the
 * partition's lease (standing by while another worker owns it), then classifies or dedupes the
 * partition's frames with the same worker pool, models and unique stores as `run`, publishes the
 * outcomes, and acknowledges the frames. SIGINT/SIGTERM stop it after the batch in hand, and hand the
 * partition over at once.
 */
import { hostname } from 'node:os';
import { createAnalysisPool, featureOf, type AnalysisPool, type ModelRef } from '../analysis/index.js';
import {
  PartitionWorker,
  base64ToFloat32,
  connectBus,
  float32ToBase64,
  bytesToBase64,
  type BusFrame,
  type FrameOutcome,
  type PartitionHandler,
} from '../bus/index.js';
import type { WorkerConfig } from '../common/config.js';
import { ConfigError, errorMessage } from '../common/errors.js';
import { FrameRing } from '../common/frame-ring.js';
import { loggerFor } from '../common/logger.js';
import type { FrameHeader } from '../common/wire/header.js';
import { startHttpServer, type HttpServer } from '../common/http.js';
import { collectProcessMetrics } from '../common/metrics.js';
import {
  InMemoryKeyedStore,
  KeypointCheck,
  defaultThreshold,
  hashToHex,
  hexToHash,
  keypointImageOf,
  type Feature,
  type KeypointImage,
  type Method,
} from '../dedupe/index.js';
import { pipelineMetrics } from '../processing/index.js';
import { PHOTO_EMBEDDER } from './run.js';

const log = loggerFor('worker');

/** A kept frame's feature as it travels on the bus (so another worker can rebuild the store). */
export function encodeFeature(feature: Feature): string {
  switch (feature.kind) {
    case 'embedding':
      return (
        'e:' + float32ToBase64(feature.vector) + (feature.layout ? '|' + float32ToBase64(feature.layout) : '')
      );
    case 'thumbnail':
      return 't:' + float32ToBase64(feature.pixels);
    case 'hash':
      return 'h:' + hashToHex(feature.hash);
    case 'gray':
      throw new Error('the change method keeps no feature that travels on the bus');
  }
}

export function decodeFeature(text: string): Feature {
  const body = text.slice(2);
  if (text.startsWith('e:')) {
    const [vector, layout] = body.split('|');
    return {
      kind: 'embedding',
      vector: base64ToFloat32(vector!),
      ...(layout ? { layout: base64ToFloat32(layout) } : {}),
    };
  }
  if (text.startsWith('t:')) return { kind: 'thumbnail', pixels: base64ToFloat32(body) };
  if (text.startsWith('h:')) return { kind: 'hash', hash: hexToHash(body) };
  throw new Error(`unknown feature encoding ${JSON.stringify(text.slice(0, 2))}`);
}

/** Frames this small travel with their outcome, so the collector can draw samples from them. */
const SMALL_FRAME_BYTES = 4096;

function imageOf(header: FrameHeader, payload: Uint8Array): NonNullable<FrameOutcome['image']> {
  return {
    width: header.width,
    height: header.height,
    channels: header.channels,
    encoding: header.encoding,
    data: bytesToBase64(payload),
  };
}

/**
 * Writes a batch of bus frames into the ring, runs `task` on their slots, and frees the slots; the batch
 * and its inference time go to the same metrics as `run`'s.
 */
async function withSlots<T extends { inferMs: number }>(
  ring: FrameRing,
  frames: BusFrame[],
  task: (slots: Int32Array) => Promise<T>,
) {
  for (const { header, payload } of frames) {
    if (ring.write(header, payload) < 0) throw new Error('frame ring full: a batch larger than the ring');
  }
  const slots = new Int32Array(frames.length);
  ring.takePending(frames.length, slots);
  try {
    const result = await task(slots);
    pipelineMetrics.batchSizeFrames.observe(frames.length);
    pipelineMetrics.inferenceSeconds.observe(result.inferMs / 1000);
    return result;
  } finally {
    for (const slot of slots) ring.release(slot);
  }
}

function classifyHandler(pool: AnalysisPool, ring: FrameRing, model: ModelRef): PartitionHandler {
  return {
    restore: () => undefined,
    async process(frames) {
      const result = await withSlots(ring, frames, (slots) =>
        pool.run({ kind: 'classify', model, slots, sidecars: ring.sidecarsOf(slots) }),
      );
      const failed = new Map(result.failed.map((f) => [f.index, f.reason]));
      const decidedAt = Date.now();
      return frames.map(({ header, payload }, i): FrameOutcome => {
        const base = { seq: header.seq, sentAt: header.sentAt, decidedAt };
        const reason = failed.get(i);
        if (reason) return { ...base, failed: reason };
        return {
          ...base,
          label: result.labels[i]!,
          confidence: result.confidences[i]!,
          ...(payload.byteLength <= SMALL_FRAME_BYTES ? { image: imageOf(header, payload) } : {}),
        };
      });
    },
  };
}

/**
 * Bytes of kept frames a worker holds for the keypoint check, over all its camera sessions. Beyond it the
 * oldest go first: a frame compared with a unique whose image is gone counts as unreadable for the check
 * and is decided by the embedding rule, as without the check.
 */
const KEPT_IMAGE_BYTES = 256 * 1024 * 1024;

/** The kept frames' images by camera session and unique number, oldest dropped beyond a byte budget. */
export class KeptImages {
  private readonly images = new Map<string, KeypointImage>();
  private bytes = 0;
  constructor(private readonly budget: number) {}

  add(session: string, unique: number, image: KeypointImage): void {
    const key = `${session}\n${unique}`;
    this.drop(key);
    if (sizeOf(image) > this.budget) return;
    this.images.set(key, image);
    this.bytes += sizeOf(image);
    for (const oldest of this.images.keys()) {
      if (this.bytes <= this.budget) break;
      this.drop(oldest);
    }
  }

  get(session: string, unique: number): KeypointImage | undefined {
    return this.images.get(`${session}\n${unique}`);
  }

  private drop(key: string): void {
    const image = this.images.get(key);
    if (!image) return;
    this.bytes -= sizeOf(image);
    this.images.delete(key);
  }
}
const sizeOf = (image: KeypointImage) => ('encoded' in image ? image.encoded : image.raw).byteLength;

/** A frame as the keypoint check reads it (its bytes as they came, or raw pixels). */
function checkImageOf(header: FrameHeader, payload: Uint8Array): KeypointImage {
  return keypointImageOf({ ...header, data: payload });
}

function dedupeHandler(
  pool: AnalysisPool,
  ring: FrameRing,
  method: Method,
  store: InMemoryKeyedStore,
  keypoints: KeypointCheck | undefined,
): PartitionHandler {
  const keyOf = (camera: string, session: string) => `${camera}/${session}`;
  const keptImages = new KeptImages(KEPT_IMAGE_BYTES);
  return {
    restore(camera, session, outcomes) {
      const key = keyOf(camera, session);
      for (const o of outcomes) {
        if (!o.kept || !o.feature) continue;
        const decision = store.decide(key, decodeFeature(o.feature));
        if (decision.duplicate) log.warn('restored unique decided as a duplicate', { camera, seq: o.seq });
        else if (keypoints && o.image)
          keptImages.add(
            key,
            decision.unique,
            keypointImageOf({
              ...o.image,
              encoding: o.image.encoding as 0 | 1 | 2,
              data: Buffer.from(o.image.data, 'base64'),
            }),
          );
      }
    },
    async process(frames) {
      const result = await withSlots(ring, frames, (slots) =>
        pool.run({
          kind: 'images',
          method,
          ...(method === 'cnn' ? { model: PHOTO_EMBEDDER } : {}),
          slots,
          sidecars: ring.sidecarsOf(slots),
        }),
      );
      const failed = new Map(result.failed.map((f) => [f.index, f.reason]));
      const decidedAt = Date.now();
      const outcomes: FrameOutcome[] = [];
      // In order: a frame's keypoint check (on pool threads) finishes before the next frame is decided.
      for (const [i, { camera, session, header, payload }] of frames.entries()) {
        const base = { seq: header.seq, sentAt: header.sentAt, decidedAt };
        const reason = failed.get(i);
        if (reason) {
          outcomes.push({ ...base, failed: reason });
          continue;
        }
        const feature = featureOf(result, i, method);
        const key = keyOf(camera, session);
        const check = keypoints?.forFrame(
          key,
          () => checkImageOf(header, payload),
          (n) => keptImages.get(key, n),
        );
        await check?.prepareFor(store, key, feature);
        const decision = store.decide(key, feature, check);
        if (decision.duplicate) {
          outcomes.push({
            ...base,
            kept: false,
            unique: decision.unique,
            distance: decision.distance,
            ...(decision.keypoints ? { keypoints: decision.keypoints } : {}),
          });
          continue;
        }
        if (check) {
          keptImages.add(key, decision.unique, checkImageOf(header, payload.slice()));
          check.kept(decision.unique);
        }
        outcomes.push({
          ...base,
          kept: true,
          unique: decision.unique,
          ...(decision.nearest ? { distance: decision.nearest.distance } : {}),
          feature: encodeFeature(feature),
          image: imageOf(header, payload),
        });
      }
      return outcomes;
    },
  };
}

/** Options that have a default are always set once resolved (config.ts). */
type ResolvedWorkerConfig = WorkerConfig &
  Required<
    Pick<
      WorkerConfig,
      | 'bus'
      | 'mode'
      | 'method'
      | 'metric'
      | 'batchSize'
      | 'modelsDir'
      | 'classifier'
      | 'approximateAbove'
      | 'leaseTtlMs'
      | 'busBacklogBytes'
      | 'busBacklogFrames'
      | 'busReplicas'
      | 'busAckWaitMs'
      | 'metricsPort'
    >
  >;

export async function workerCommand(config: ResolvedWorkerConfig): Promise<void> {
  if (config.partition === undefined) {
    throw new ConfigError('--partition (FRAMESIFT_PARTITION) is required: the partition this worker decides');
  }
  if (config.mode === 'both') throw new ConfigError('--mode both: a bus worker runs classify or dedupe');
  if (config.mode === 'dedupe' && config.method === 'change') {
    throw new ConfigError('--method change: the bus mode dedupes with cnn, phash or mse');
  }
  collectProcessMetrics();
  const name = `${hostname()}:${process.pid}`;
  // Several workers on one machine each need their own port (or 0: any free port, logged).
  const metrics: HttpServer = await startHttpServer({
    port: config.metricsPort,
    what: `worker ${config.partition}'s metrics server`,
    hint: 'give each worker on this machine its own --metrics-port (0 = any free port)',
  });
  const bus = await connectBus(config.bus, `framesift-worker-${config.partition}`).catch(
    async (err: unknown) => {
      await metrics.close();
      throw err;
    },
  );
  const batchSize = Math.min(config.batchSize, 256);
  // Photos may be larger than a slot; the ring moves those through side buffers.
  const slotBytes = config.mode === 'dedupe' ? 256 * 1024 : 28 * 28 * 3;
  const ring = FrameRing.create({ slots: batchSize * 2, slotBytes });
  const pool = createAnalysisPool({ threads: config.workers, modelsDir: config.modelsDir, ring });
  let worker: PartitionWorker | undefined;
  let stopping = false;
  const stop = () => {
    stopping = true;
    worker?.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const model: ModelRef = config.mode === 'dedupe' ? PHOTO_EMBEDDER : config.classifier;
    const warm =
      config.mode === 'classify' || config.method === 'cnn' ? (await pool.warmup(model))[0] : undefined;
    const threshold = config.threshold ?? defaultThreshold(config.method, config.metric);
    // Each ownership starts from what the bus holds: a fresh store, rebuilt from the published uniques.
    const makeHandler = () =>
      config.mode === 'dedupe'
        ? dedupeHandler(
            pool,
            ring,
            config.method,
            new InMemoryKeyedStore({
              method: config.method,
              metric: config.metric,
              threshold,
              approximateAbove: config.approximateAbove,
            }),
            // The same second opinion on photos as `run` (docs/dedupe.md).
            KeypointCheck.create(config.keypoints ?? 'auto', config),
          )
        : classifyHandler(pool, ring, model);
    const options = {
      partition: config.partition,
      name,
      batchSize,
      leaseTtlMs: config.leaseTtlMs,
      ...(config.mode === 'dedupe' && config.method !== 'change'
        ? { rule: { method: config.method, metric: config.metric, threshold } }
        : {}),
      ...(warm
        ? {
            model: {
              name: typeof model === 'string' ? model : 'model',
              file: warm.modelPath.split(/[\\/]/).pop()!,
              sha256: warm.sha256 ?? '',
            },
          }
        : {}),
      ...crashHookFromEnv(),
      limits: {
        maxBacklogBytes: config.busBacklogBytes,
        maxBacklogFrames: config.busBacklogFrames,
        replicas: config.busReplicas,
        ackWaitMs: config.busAckWaitMs,
      },
    };
    log.info('worker started', {
      partition: config.partition,
      mode: config.mode,
      name,
      metrics: `${metrics.url}/metrics`,
    });
    // A worker that loses its lease, or whose bus fails under it, leaves its unacknowledged frames to be
    // redelivered and goes back to standing by; only a stop ends it.
    while (!stopping) {
      worker = new PartitionWorker(bus, makeHandler(), options);
      let why: string;
      try {
        why = await worker.run();
      } catch (err) {
        why = 'failed';
        log.error('partition work failed; standing by again', {
          partition: config.partition,
          error: errorMessage(err),
        });
      }
      log.info('worker stopped', { partition: config.partition, why, processed: worker.processed });
      if (why === 'stopped' || stopping) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await pool.destroy();
    await bus.close();
    await metrics.close();
  }
}

/** Test-only: FRAMESIFT_TEST_BUS_CRASH_BEFORE_ACK=<n> kills the worker between publishing and acknowledging. */
function crashHookFromEnv(env: NodeJS.ProcessEnv = process.env): { crashBeforeAckAt?: number } {
  const at = Number(env.FRAMESIFT_TEST_BUS_CRASH_BEFORE_ACK);
  return Number.isInteger(at) && at > 0 ? { crashBeforeAckAt: at } : {};
}
