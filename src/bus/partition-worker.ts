/**
 * The consuming side of a partition: the loop of a `framesift worker --partition P` process. It holds the
 * partition's lease, fetches frames in batches from the partition's durable consumer, hands the new ones
 * to the analysis (injected by the command: the same worker pool and unique stores as `run`), publishes
 * the outcomes to `results.<camera>.frames`, and only then acknowledges the frames. A worker that dies
 * before acknowledging leaves its frames to be redelivered to the next owner.
 *
 * Processing is idempotent by (camera, session, seq): before its first frame of a camera session the
 * worker reads the outcomes already published for it, hands them to `restore` (which rebuilds the
 * camera's unique store from its kept features), and acknowledges redelivered frames it finds decided
 * without deciding them again.
 */
import { createHash } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { FrameFormatError, decodeFrame, type FrameHeader } from '../common/wire/header.js';
import {
  DEFAULT_BUS_LIMITS,
  ensurePartitionConsumer,
  ensureStreams,
  type Bus,
  type BusLimits,
} from './connection.js';
import { readSubject } from './history.js';
import { PartitionLease } from './lease.js';
import { decodeResult, encodeResult, type FrameOutcome, type FramesMessage } from './messages.js';
import {
  busFramesAcked,
  busFramesConsumed,
  busFramesInvalid,
  busFramesRedelivered,
  busLeasesLost,
  busPartitionOwned,
  busResultImagesOmitted,
  busResultsPublished,
} from './metrics.js';
import { publishRetrying } from './publisher.js';
import {
  FRAMES_STREAM,
  SESSION_HEADER,
  cameraOfFrameSubject,
  partitionConsumer,
  resultsSubject,
  seqOfMessageId,
} from './subjects.js';

const log = loggerFor('bus-worker');

/** A frame as the analysis gets it: decoded header and payload, its camera session. */
export interface BusFrame {
  camera: string;
  session: string;
  header: FrameHeader;
  payload: Uint8Array;
}

export interface PartitionHandler {
  /** Called once per camera session before its first new frame, with its outcomes published so far. */
  restore(camera: string, session: string, outcomes: FrameOutcome[]): void;
  /** Decides a batch of new frames (seq order within each camera session); one outcome per frame. */
  process(frames: BusFrame[]): Promise<FrameOutcome[]>;
}

export interface PartitionWorkerOptions {
  partition: number;
  /** This process's name on the bus (lease owner, results' `worker`). */
  name: string;
  batchSize: number;
  leaseTtlMs: number;
  limits?: BusLimits;
  model?: FramesMessage['model'];
  rule?: FramesMessage['rule'];
  /**
   * Test-only (FRAMESIFT_TEST_BUS_CRASH_BEFORE_ACK): once the results bringing this worker's decided
   * frames to this many are published, the process dies before acknowledging them, as a crash would.
   */
  crashBeforeAckAt?: number;
}

const keyOf = (camera: string, session: string) => `${camera}\u0000${session}`;

export class PartitionWorker {
  private readonly decided = new Map<string, Set<number>>();
  private readonly abort = new AbortController();
  private lease: PartitionLease | undefined;
  private lost = false;
  processed = 0;

  constructor(
    private readonly bus: Bus,
    private readonly handler: PartitionHandler,
    private readonly options: PartitionWorkerOptions,
  ) {}

  stop(): void {
    this.abort.abort();
  }

  /** Runs until `stop()` or until the lease is lost; resolves with why it ended. */
  async run(): Promise<'stopped' | 'lease-lost'> {
    const { partition } = this.options;
    await ensureStreams(this.bus, this.options.limits);
    await ensurePartitionConsumer(this.bus, partition, this.options.limits);
    this.lease = await PartitionLease.open(this.bus, {
      partition,
      owner: this.options.name,
      ttlMs: this.options.leaseTtlMs,
      replicas: this.options.limits?.replicas,
    });
    const partitionLabel = { partition: String(partition) };
    this.lease.onLost(() => {
      this.lost = true;
      busLeasesLost.inc(partitionLabel);
      busPartitionOwned.set(partitionLabel, 0);
      this.abort.abort();
    });
    // Every series at 0 from the start, so a scrape shows a standby's partition and rates start at 0.
    busPartitionOwned.set(partitionLabel, 0);
    for (const counter of [
      busFramesConsumed,
      busFramesAcked,
      busFramesRedelivered,
      busResultsPublished,
      busResultImagesOmitted,
      busLeasesLost,
    ]) {
      counter.inc(partitionLabel, 0);
    }
    if (!(await this.lease.acquire(this.abort.signal))) return 'stopped';
    busPartitionOwned.set(partitionLabel, 1);
    // Frames the previous owner took but never acknowledged come back once their ack wait is over, and
    // the server redelivers before it delivers new frames: waiting for that keeps decisions in seq order
    // across a takeover, so a camera's uniques are the same as with one worker throughout.
    const info = await this.bus.jsm.consumers.info(FRAMES_STREAM, partitionConsumer(partition));
    if (info.num_ack_pending > 0 && !this.abort.signal.aborted) {
      const waitMs = (this.options.limits?.ackWaitMs ?? DEFAULT_BUS_LIMITS.ackWaitMs) + 250;
      log.info("taking over: waiting for the previous owner's frames to come due", {
        partition,
        unacknowledged: info.num_ack_pending,
        waitMs,
      });
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    const consumer = await this.bus.js.consumers.get(FRAMES_STREAM, partitionConsumer(partition));
    // consume() keeps a bounded buffer of frames flowing; batches are cut from what has arrived, so a
    // batch never waits for frames that are not there yet.
    const messages = await consumer.consume({ max_messages: this.options.batchSize * 2, expires: 5000 });
    const queue: JsMsg[] = [];
    let wake: (() => void) | undefined;
    const arrived = () => {
      wake?.();
      wake = undefined;
    };
    this.abort.signal.addEventListener('abort', () => {
      void messages.close();
      arrived();
    });
    const reading = (async () => {
      for await (const m of messages) {
        queue.push(m);
        arrived();
      }
      arrived();
    })();
    try {
      while (!this.abort.signal.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        await this.handle(queue.splice(0, this.options.batchSize));
      }
    } finally {
      await messages.close();
      await reading.catch(() => undefined);
      if (!this.lost) await this.lease.release();
      busPartitionOwned.set(partitionLabel, 0);
    }
    return this.lost ? 'lease-lost' : 'stopped';
  }

  private async decidedSeqs(camera: string, session: string): Promise<Set<number>> {
    const key = keyOf(camera, session);
    let seqs = this.decided.get(key);
    if (seqs) return seqs;
    const outcomes: FrameOutcome[] = [];
    for (const m of await readSubject(this.bus, resultsSubject(camera, 'frames'))) {
      const message = decodeResult(m.data);
      if (message.type === 'frames' && message.session === session) outcomes.push(...message.frames);
    }
    seqs = new Set(outcomes.map((o) => o.seq));
    this.handler.restore(camera, session, outcomes);
    if (outcomes.length > 0) {
      log.info('camera session restored from the bus', { camera, session, decided: seqs.size });
    }
    this.decided.set(key, seqs);
    return seqs;
  }

  private async handle(messages: JsMsg[]): Promise<void> {
    const partitionLabel = String(this.options.partition);
    const fresh: Array<{ frame: BusFrame; msg: JsMsg }> = [];
    const invalid = new Map<string, { camera: string; session: string; outcomes: FrameOutcome[] }>();
    const ackNow: JsMsg[] = [];
    let redelivered = 0;
    for (const msg of messages) {
      const camera = cameraOfFrameSubject(msg.subject) ?? 'unknown';
      const session = msg.headers?.get(SESSION_HEADER) || 'unknown';
      const decided = await this.decidedSeqs(camera, session);
      let decoded: ReturnType<typeof decodeFrame> | undefined;
      let reason: string | undefined;
      try {
        decoded = decodeFrame(msg.data);
      } catch (err) {
        reason = err instanceof FrameFormatError ? err.reason : 'bad-frame';
      }
      const seq = decoded?.header.seq ?? seqOfMessageId(msg.headers?.get('Nats-Msg-Id'));
      if (seq !== undefined && decided.has(seq)) {
        busFramesRedelivered.inc({ partition: partitionLabel });
        redelivered++;
        ackNow.push(msg);
        continue;
      }
      if (!decoded || seq === undefined) {
        const key = keyOf(camera, session);
        const entry = invalid.get(key) ?? { camera, session, outcomes: [] };
        entry.outcomes.push({
          seq: seq ?? -1,
          sentAt: 0,
          decidedAt: Date.now(),
          invalid: reason ?? 'bad-frame',
        });
        busFramesInvalid.inc({ partition: partitionLabel, reason: reason ?? 'bad-frame' });
        invalid.set(key, entry);
        ackNow.push(msg);
        continue;
      }
      fresh.push({ frame: { camera, session, header: decoded.header, payload: decoded.payload }, msg });
    }
    fresh.sort((a, b) =>
      a.frame.camera === b.frame.camera && a.frame.session === b.frame.session
        ? a.frame.header.seq - b.frame.header.seq
        : keyOf(a.frame.camera, a.frame.session) < keyOf(b.frame.camera, b.frame.session)
          ? -1
          : 1,
    );
    const outcomes = fresh.length > 0 ? await this.handler.process(fresh.map((f) => f.frame)) : [];
    const byCamera = new Map<string, { camera: string; session: string; outcomes: FrameOutcome[] }>(invalid);
    fresh.forEach(({ frame }, i) => {
      const key = keyOf(frame.camera, frame.session);
      const entry = byCamera.get(key) ?? { camera: frame.camera, session: frame.session, outcomes: [] };
      entry.outcomes.push(outcomes[i]!);
      byCamera.set(key, entry);
    });
    // A worker that lost its lease must not publish: the next owner decides these frames.
    if (this.lost) return;
    let published = 0;
    await Promise.all(
      [...byCamera.values()].flatMap(({ camera, session, outcomes: list }) => {
        const message: FramesMessage = {
          type: 'frames',
          camera,
          session,
          partition: this.options.partition,
          worker: this.options.name,
          ...(this.options.model ? { model: this.options.model } : {}),
          ...(this.options.rule ? { rule: this.options.rule } : {}),
          frames: list,
        };
        return this.fitted(message).map(async ({ data, seqs }) => {
          const batchId = createHash('sha1').update(seqs.join(',')).digest('hex');
          await publishRetrying(this.bus, resultsSubject(camera, 'frames'), data, {
            msgID: `${camera}-${session}-${batchId}`,
          });
          published += seqs.length;
        });
      }),
    ).catch((err: unknown) => {
      // Not acknowledged: the frames come back and are decided again.
      log.error('publishing results failed; frames left for redelivery', { error: errorMessage(err) });
      throw err;
    });
    busResultsPublished.inc({ partition: partitionLabel }, published);
    for (const { camera, session, outcomes: list } of byCamera.values()) {
      const seqs = this.decided.get(keyOf(camera, session))!;
      for (const o of list) seqs.add(o.seq);
    }
    const crashAt = this.options.crashBeforeAckAt;
    if (crashAt !== undefined && this.processed + fresh.length >= crashAt) {
      log.warn('test hook: dying before acknowledging', { decided: this.processed + fresh.length });
      process.kill(process.pid, 'SIGKILL');
    }
    for (const { msg } of fresh) msg.ack();
    for (const msg of ackNow) msg.ack();
    if (redelivered > 0) {
      log.info('redelivered frames already decided: acknowledged, not decided again', {
        partition: this.options.partition,
        frames: redelivered,
      });
    }
    this.processed += fresh.length;
    busFramesConsumed.inc({ partition: partitionLabel }, fresh.length);
    busFramesAcked.inc({ partition: partitionLabel }, fresh.length + ackNow.length);
  }

  /**
   * A results message as one or more messages under the server's max_payload: a batch of kept photos
   * carries their images, which may add up past it. The outcomes are split in halves until each part
   * fits; a single kept frame whose image alone does not fit goes without it (logged and counted; its
   * decision and counts are unchanged, only the saved copy is missing).
   */
  private fitted(message: FramesMessage): Array<{ data: Uint8Array; seqs: number[] }> {
    const data = encodeResult(message);
    // Room for the headers (message id) that count against max_payload too.
    if (data.byteLength <= this.bus.maxPayload - Math.min(1024, this.bus.maxPayload / 4)) {
      return [{ data, seqs: message.frames.map((o) => o.seq) }];
    }
    if (message.frames.length > 1) {
      const half = Math.ceil(message.frames.length / 2);
      return [
        ...this.fitted({ ...message, frames: message.frames.slice(0, half) }),
        ...this.fitted({ ...message, frames: message.frames.slice(half) }),
      ];
    }
    const [outcome] = message.frames;
    if (!outcome?.image)
      throw new Error(`a result of ${data.byteLength} bytes > max_payload ${this.bus.maxPayload}`);
    log.warn("a kept frame's image does not fit the bus's max_payload: its outcome goes without it", {
      camera: message.camera,
      seq: outcome.seq,
      bytes: data.byteLength,
      maxPayload: this.bus.maxPayload,
    });
    busResultImagesOmitted.inc({ partition: String(this.options.partition) });
    const { image: _omitted, ...rest } = outcome;
    return this.fitted({ ...message, frames: [rest] });
  }
}
