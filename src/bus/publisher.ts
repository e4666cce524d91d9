/**
 * Publishing one camera session's frames to the bus: the same 24-byte header and payload as on the
 * WebSocket, to `frames.<camera>`, with a message id per (camera, session, seq) so that a frame
 * re-published after a publisher retry is stored once. A window of publishes is in flight at once (each
 * waits for JetStream's acknowledgement); every refusal is counted by reason and listed in the session's
 * end marker, so the collector can reconcile sent = processed + discarded + invalid.
 */
import { headers } from '@nats-io/transport-node';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { encodeFrame, type FrameHeader } from '../common/wire/header.js';
import type { Bus } from './connection.js';
import { encodeResult, type DiscardReason, type EndMessage } from './messages.js';
import { busFramesDiscarded, busFramesPublished } from './metrics.js';
import { SESSION_HEADER, checkCameraId, frameMessageId, publishSubject, resultsSubject } from './subjects.js';

const log = loggerFor('bus-publisher');

export interface FramePublisherOptions {
  camera: string;
  session: string;
  source: string;
  mode: 'classify' | 'dedupe';
  /** Publishes awaiting acknowledgement at once. */
  window?: number;
}

/** Tries of one frame's publish before it is counted as refused (publish-failed). */
const PUBLISH_ATTEMPTS = 9;

function discardReason(err: unknown): DiscardReason {
  const text = errorMessage(err);
  if (/maximum (bytes|messages)|resource limits|insufficient resources/i.test(text)) return 'bus-full';
  if (/message size exceeds|max_payload|maximum payload/i.test(text)) return 'bus-too-large';
  return 'bus-publish-failed';
}

/**
 * A JetStream publish that is tried again while it fails for a passing reason (a cluster node lost, a
 * stream leader being elected); the message id makes a retry of a message that was in fact stored a
 * no-op. A full backlog or an oversize message is final at once.
 */
export async function publishRetrying(
  bus: Bus,
  subject: string,
  data: Uint8Array,
  options: { msgID: string; headers?: ReturnType<typeof headers> },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await bus.js.publish(subject, data, { ...options, timeout: 5_000 });
      return;
    } catch (err) {
      if (discardReason(err) !== 'bus-publish-failed' || attempt >= PUBLISH_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

export class FramePublisher {
  private sent = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly discarded: Partial<Record<DiscardReason, number[]>> = {};
  private readonly labels: number[] = [];
  private labelled = true;
  private readonly window: number;

  constructor(
    private readonly bus: Bus,
    private readonly options: FramePublisherOptions,
  ) {
    checkCameraId(options.camera);
    this.window = options.window ?? 256;
  }

  get sentCount(): number {
    return this.sent;
  }

  discardedCount(): number {
    return Object.values(this.discarded).reduce((n, seqs) => n + (seqs?.length ?? 0), 0);
  }

  private discard(seq: number, reason: DiscardReason, err: unknown): void {
    const seqs = (this.discarded[reason] ??= []);
    seqs.push(seq);
    busFramesDiscarded.inc({ camera: this.options.camera, reason });
    // The first refusal of each reason is logged; the rest are counted (metrics, end marker, summary).
    if (seqs.length > 1) return;
    log.warn('frames refused by the bus', {
      camera: this.options.camera,
      seq,
      reason,
      error: errorMessage(err).slice(0, 200),
    });
  }

  /** Publishes frame `header.seq`; resolves when it may publish the next (the window has room). */
  async publish(header: FrameHeader, payload: Uint8Array, label?: number): Promise<void> {
    const seq = header.seq;
    this.sent++;
    if (label === undefined) this.labelled = false;
    else this.labels[seq] = label;
    const message = encodeFrame(header, payload);
    if (message.byteLength > this.bus.maxPayload) {
      this.discard(
        seq,
        'bus-too-large',
        new Error(`${message.byteLength} bytes > max_payload ${this.bus.maxPayload}`),
      );
      return;
    }
    const h = headers();
    h.set(SESSION_HEADER, this.options.session);
    const done = this.publishWithRetry(seq, message, h)
      .then(
        () => void busFramesPublished.inc({ camera: this.options.camera }),
        (err: unknown) => this.discard(seq, discardReason(err), err),
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    if (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
  }

  /**
   * A publish that failed for a passing reason (a cluster node lost, a leader being elected) is tried
   * again: the message id makes a retry of a frame that was in fact stored a no-op. A full backlog or an
   * oversize frame is final at once.
   */
  private publishWithRetry(seq: number, message: Uint8Array, h: ReturnType<typeof headers>) {
    return publishRetrying(this.bus, publishSubject(this.options.camera), message, {
      msgID: frameMessageId(this.options.camera, this.options.session, seq),
      headers: h,
    });
  }

  /** Waits for every publish, then publishes the session's end marker. */
  async end(): Promise<EndMessage> {
    await Promise.all(this.inFlight);
    const end: EndMessage = {
      type: 'end',
      camera: this.options.camera,
      session: this.options.session,
      source: this.options.source,
      sent: this.sent,
      discarded: this.discarded,
      mode: this.options.mode,
      ...(this.labelled && this.sent > 0
        ? { labels: Buffer.from(Uint8Array.from(this.labels)).toString('base64') }
        : {}),
    };
    await publishRetrying(this.bus, resultsSubject(this.options.camera, 'end'), encodeResult(end), {
      msgID: `${this.options.camera}-${this.options.session}-end`,
    });
    const refused = Object.fromEntries(
      Object.entries(this.discarded).map(([r, seqs]) => [r, seqs?.length ?? 0]),
    );
    log.log(this.discardedCount() > 0 ? 'warn' : 'info', 'session published', {
      camera: this.options.camera,
      session: this.options.session,
      sent: this.sent,
      refused,
    });
    return end;
  }
}
