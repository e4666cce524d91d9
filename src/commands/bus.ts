/**
 * `framesift bus …`: the publishing and collecting ends of the bus mode, and the NATS configuration it
 * needs. `bus config` prints a nats-server configuration with framesift's partition mapping;
 * `bus publish` streams a source as one camera onto the bus; `bus collect` gathers the workers' outcomes
 * into results folders per camera session.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  FramePublisher,
  ResultCollector,
  base64ToBytes,
  connectBus,
  ensureStreams,
  natsServerConfig,
  type CollectedSession,
  type DiscardReason,
  type EndMessage,
  type FrameOutcome,
} from '../bus/index.js';
import type { BusConfig } from '../common/config.js';
import { useFfmpegBinaries } from '../common/ffmpeg.js';
import { loggerFor } from '../common/logger.js';
import { writeUniquesFolder, type KeptImage } from '../dedupe/index.js';
import type { FrameImage } from '../common/frame-image.js';
import { INVALID_REASONS, SessionLedger, type InvalidReason } from '../common/session/index.js';
import {
  SessionRecorder,
  formatTerminalSummary,
  writeResultsFolder,
  writeScore,
  type SessionOutcome,
  type WrittenResults,
} from '../results/index.js';
import { Pacer, openSource, scoreSubmission } from '../stream/index.js';
import { cameraSourceOptions, videoSourceOptions } from './serve.js';

const log = loggerFor('bus');

type Resolved = BusConfig &
  Required<
    Pick<
      BusConfig,
      | 'bus'
      | 'camera'
      | 'mode'
      | 'fps'
      | 'partitions'
      | 'natsPort'
      | 'natsStoreDir'
      | 'natsMaxPayload'
      | 'busBacklogBytes'
      | 'busBacklogFrames'
      | 'busReplicas'
      | 'busAckWaitMs'
      | 'busIdleMs'
      | 'out'
    >
  >;

export function busConfigCommand(config: Resolved): void {
  process.stdout.write(
    natsServerConfig({
      partitions: config.partitions,
      port: config.natsPort,
      storeDir: path.resolve(config.natsStoreDir),
      maxPayloadBytes: config.natsMaxPayload,
    }),
  );
}

export interface PublishOptions {
  signal?: AbortSignal;
  session?: string;
  /** Called after each frame is handed to the bus (tests act at a given point of a session). */
  onPublished?: (seq: number) => void;
}

/** Streams `--source` as camera `--camera` onto the bus; resolves with the end marker it published. */
export async function busPublishCommand(config: Resolved, options: PublishOptions = {}): Promise<EndMessage> {
  useFfmpegBinaries({ ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath });
  // The sources `serve` streams, with the same options: a dataset, a folder, a camera, a video.
  const source = await openSource(config.source ?? 'fashion-mnist-test', {
    fashionMnistDir: config.fashionMnistDir,
    camera: cameraSourceOptions(config),
    video: videoSourceOptions(config),
  });
  const bus = await connectBus(config.bus, `framesift-publisher-${config.camera}`);
  const abort = new AbortController();
  const stop = () => abort.abort();
  options.signal?.addEventListener('abort', stop);
  process.once('SIGINT', stop);
  try {
    await ensureStreams(bus, {
      maxBacklogBytes: config.busBacklogBytes,
      maxBacklogFrames: config.busBacklogFrames,
      replicas: config.busReplicas,
      ackWaitMs: config.busAckWaitMs,
    });
    const session = options.session ?? randomUUID();
    const publisher = new FramePublisher(bus, {
      camera: config.camera,
      session,
      source: source.info.name,
      mode: config.mode === 'dedupe' ? 'dedupe' : 'classify',
    });
    log.info('publishing', { camera: config.camera, session, source: source.info.name, count: config.count });
    const pacer = config.fps > 0 ? new Pacer(config.fps, performance.now()) : undefined;
    let seq = 0;
    for await (const frame of source.frames({ count: config.count, signal: abort.signal })) {
      if (pacer) {
        // Checked again after each timer: one may fire a millisecond early.
        let wait: number;
        while ((wait = pacer.delayBefore(seq, performance.now())) > 0)
          await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await publisher.publish(
        {
          seq,
          width: frame.width,
          height: frame.height,
          channels: frame.channels,
          encoding: frame.encoding,
          sentAt: Date.now(),
        },
        frame.payload,
        frame.label,
      );
      options.onPublished?.(seq);
      seq++;
      if (abort.signal.aborted) break;
    }
    const end = await publisher.end();
    process.stdout.write(
      `published camera ${end.camera} session ${end.session}: ${end.sent} frames, ${publisher.discardedCount()} refused by the bus\n`,
    );
    return end;
  } finally {
    process.off('SIGINT', stop);
    options.signal?.removeEventListener('abort', stop);
    await source.close();
    await bus.close();
  }
}

/** The pixels that travelled with an outcome; a 1×1 stand-in when they did not (large classified frames). */
function imageOf(o: FrameOutcome): FrameImage {
  return o.image
    ? { ...o.image, encoding: o.image.encoding as 0 | 1 | 2, data: base64ToBytes(o.image.data) }
    : { width: 1, height: 1, channels: 1, encoding: 0, data: new Uint8Array(1) };
}

function asInvalidReason(reason: string): InvalidReason {
  return (INVALID_REASONS as readonly string[]).includes(reason) ? (reason as InvalidReason) : 'undecodable';
}

export interface CollectedResults {
  session: CollectedSession;
  written: WrittenResults;
  /** The score against the publisher's labels, when the source had labels and the mode classifies. */
  accuracy?: number;
  savedFolder?: string;
}

/**
 * Writes one collected camera session as `run` writes a session: the results folder (results.json with
 * the reconciliation, summary, samples, charts), the score when labels came with the end marker, and for
 * dedupe the kept frames as a uniques folder named after the camera and session.
 */
export async function writeCollectedSession(
  outDir: string,
  collected: CollectedSession,
  imageSaveQuality = 90,
): Promise<CollectedResults> {
  const { end } = collected;
  const recorder = new SessionRecorder();
  // The same ledger and rule as `run`: every frame the publisher sent is processed, dropped or invalid
  // with a typed reason, or missing by seq.
  const ledger = new SessionLedger({ count: end.sent });
  const kept: Array<{ seq: number; image: KeptImage; decidedAt: number; distance?: number }> = [];
  let duplicates = 0;
  // Kept frames whose image was too large to travel in a result (the worker counted each): uniques all
  // the same, but not in the saved folder.
  const keptWithoutImage: number[] = [];
  for (const o of collected.outcomes) {
    ledger.receive();
    if (ledger.admit(o.seq)) continue;
    if (o.invalid || o.failed) {
      ledger.invalid(o.invalid ? asInvalidReason(o.invalid) : 'undecodable', o.seq);
      continue;
    }
    ledger.process(o.seq);
    if (o.label !== undefined) {
      recorder.predicted(o.seq, o.label, o.confidence ?? 0, imageOf(o), o.sentAt, o.decidedAt);
    } else {
      recorder.processed(o.sentAt, o.decidedAt);
      if (o.kept && o.image) {
        kept.push({
          seq: o.seq,
          decidedAt: o.decidedAt,
          ...(o.distance !== undefined ? { distance: o.distance } : {}),
          image: imageOf(o),
        });
      } else if (o.kept) keptWithoutImage.push(o.seq);
      else if (o.kept === false) duplicates++;
    }
  }
  for (const reason of collected.unreadable) {
    ledger.receive();
    ledger.invalid(asInvalidReason(reason));
  }
  // Frames the bus refused never reached a worker: dropped with their reason, never missing.
  for (const [reason, seqs] of Object.entries(end.discarded)) {
    for (const seq of seqs ?? []) {
      ledger.receive();
      if (!ledger.admit(seq)) ledger.drop(reason as DiscardReason, seq);
    }
  }
  const sessionId = `${collected.camera}-${collected.session}`;
  if (keptWithoutImage.length > 0) {
    log.warn('kept frames came without their image (above the bus max_payload): not in the saved folder', {
      session: sessionId,
      seqs: keptWithoutImage.slice(0, 20),
      count: keptWithoutImage.length,
    });
  }
  const rule = collected.rule ?? { method: 'cnn' as const, metric: 'cosine' as const, threshold: Number.NaN };
  const startedAt = Math.min(...collected.outcomes.map((o) => o.sentAt).filter((t) => t > 0), Date.now());
  let savedFolder: string | undefined;
  if (end.mode === 'dedupe' && kept.length > 0) {
    const saved = await writeUniquesFolder({
      outDir,
      name: sessionId,
      method: rule.method,
      metric: rule.method === 'cnn' ? rule.metric : null,
      threshold: rule.threshold,
      model: collected.model ?? null,
      imageSaveQuality,
      uniques: kept.map((k) => ({ streamId: collected.camera, seq: k.seq, image: k.image })),
      duplicates: new Map(),
    });
    savedFolder = saved.folder;
  }
  const judgement = ledger.judge(
    end.sent,
    collected.complete ? { kind: 'ended' } : { kind: 'lost', reason: 'no-end' },
  );
  const outcome: SessionOutcome = {
    sessionId,
    mode: end.mode,
    source: { name: end.source, requestedCount: end.sent },
    model: collected.model ?? null,
    counts: judgement.counts,
    reconciliation: judgement.reconciliation,
    verdict: judgement.verdict,
    ...(judgement.beyondSent.length > 0 ? { beyondSent: judgement.beyondSent } : {}),
    predictions: recorder.predictions,
    samples: recorder.samples,
    timings: { startedAt, endedAt: Date.now() },
    ...(end.mode === 'dedupe'
      ? {
          dedupe: {
            method: rule.method,
            metric: rule.metric,
            threshold: rule.threshold,
            uniques: kept.length + keptWithoutImage.length,
            duplicates,
            savedFolders: savedFolder ? [savedFolder] : [],
          },
        }
      : {}),
  };
  const written = await writeResultsFolder(path.join(outDir, collected.camera), outcome);
  let accuracy: number | undefined;
  if (end.labels && end.mode !== 'dedupe') {
    const labels = base64ToBytes(end.labels);
    const score = scoreSubmission(written.document, end.sent, labels);
    accuracy = score.accuracy ?? undefined;
    await writeScore(written.folder, { type: 'scored', sessionId, ...score });
  }
  return {
    session: collected,
    written,
    ...(accuracy !== undefined ? { accuracy } : {}),
    ...(savedFolder ? { savedFolder } : {}),
  };
}

/** Collects until SIGINT/SIGTERM or `signal`; each complete camera session is written as it completes. */
export async function busCollectCommand(
  config: Resolved,
  options: { signal?: AbortSignal; onSession?: (results: CollectedResults) => void } = {},
): Promise<void> {
  if (config.busIdleMs <= config.busAckWaitMs) {
    log.warn(
      'a partition changing owner is silent for the ack wait: sessions would be written as incomplete during a takeover',
      { busIdleMs: config.busIdleMs, busAckWaitMs: config.busAckWaitMs },
    );
  }
  const bus = await connectBus(config.bus, 'framesift-collector');
  // Several collectors may each own a camera group (--cameras); each writes only its cameras' sessions.
  const collector = new ResultCollector(bus, {
    idleMs: config.busIdleMs,
    ...(config.cameras ? { cameras: config.cameras } : {}),
    limits: {
      maxBacklogBytes: config.busBacklogBytes,
      maxBacklogFrames: config.busBacklogFrames,
      replicas: config.busReplicas,
      ackWaitMs: config.busAckWaitMs,
    },
    onSession: async (collected) => {
      const results = await writeCollectedSession(config.out, collected, config.imageSaveQuality);
      process.stdout.write(
        formatTerminalSummary({ document: results.written.document, folder: results.written.folder }) + '\n',
      );
      options.onSession?.(results);
    },
  });
  const stopped = new Promise<void>((resolve) => {
    options.signal?.addEventListener('abort', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  try {
    await collector.start();
    log.info('collecting', { bus: config.bus, out: config.out, cameras: config.cameras ?? 'all' });
    await stopped;
  } finally {
    await collector.stop();
    await bus.close();
  }
}
