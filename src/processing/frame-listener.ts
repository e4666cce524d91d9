/**
 * The frame socket listener: every message is counted, its header validated with the wire codec, and the
 * frame copied into the frame ring — the only per-frame work on the main thread. A bad frame is counted
 * with its reason and logged; it never stops the session.
 *
 * When the ring is full the ring policy decides:
 * - `block`: the socket is paused (TCP pushes back on the server); the few messages ws had already parsed
 *   wait in a small backlog, in order, and go into the ring as slots are released. Nothing is lost.
 * - `drop-oldest`: the oldest pending (not yet dispatched) frame is dropped and counted (`ring-full`).
 */
import WebSocket from 'ws';
import type { FrameRing } from '../common/frame-ring.js';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { FrameFormatError, decodeFrame } from '../common/wire/header.js';
import type { DropReason, InvalidReason, SessionLedger } from '../common/session/index.js';
import { oversizeFrames, ringDepth } from './metrics.js';

const log = loggerFor('processing.listener');

export type RingPolicy = 'block' | 'drop-oldest';

export interface FrameListenerOptions {
  ring: FrameRing;
  policy: RingPolicy;
  /** The session's ledger: it admits seqs (range, repeats) and counts every outcome. */
  ledger: SessionLedger;
  /** Told of each frame written to the ring (the batcher). */
  onFrame: () => void;
}

const REFUSAL_TEXT: Partial<Record<InvalidReason, string>> = {
  'seq-out-of-range': "seq beyond the session's announced count",
  'duplicate-seq': 'seq already received',
};

/** Logs the first few rejections of each reason, then every 1000th, so a flood cannot flood the log. */
function shouldLog(count: number): boolean {
  return count <= 5 || count % 1000 === 0;
}

export class FrameListener {
  private socket: WebSocket | undefined;
  private readonly backlog: Buffer[] = [];
  private backlogHead = 0;
  private paused = false;
  /** Times the socket was paused because the ring was full (block policy). */
  pauses = 0;
  /** Resolves when the frame socket has closed, with its close code. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (value: { code: number; reason: string }) => void;

  constructor(private readonly options: FrameListenerOptions) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Opens the frame socket; streaming starts when it connects. */
  connect(url: string, timeoutMs = 10_000, token?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        maxPayload: 256 * 1024 * 1024,
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      });
      this.socket = socket;
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new UserError(`frame server ${url} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.binaryType = 'nodebuffer';
      socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
      socket.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        const code = (err as NodeJS.ErrnoException).code;
        log.warn('frame socket error', { url, error: errorMessage(err) });
        reject(new UserError(`cannot connect the frame socket ${url} (${code ?? errorMessage(err)})`));
      });
      socket.on('close', (code, reason) => {
        clearTimeout(timer);
        this.resolveClosed({ code, reason: reason.toString() });
      });
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.options.ledger.receive();
    if (!isBinary) {
      this.reject('text-message', undefined, 'text message on the frame socket: expected binary frames');
      return;
    }
    if (this.backlogHead < this.backlog.length) {
      this.backlog.push(data);
      return;
    }
    if (!this.ingest(data)) this.holdBack(data);
  }

  private holdBack(data: Buffer): void {
    this.backlog.push(data);
    if (!this.paused) {
      this.paused = true;
      this.pauses++;
      this.socket?.pause();
    }
  }

  /**
   * Validates one message and writes it to the ring; false when the ring is full under `block`. With
   * `discard` (a stopped session giving up its backlog) a valid frame is counted as dropped instead.
   */
  private ingest(data: Buffer, discard?: DropReason): boolean {
    const { ring, ledger } = this.options;
    if (!discard && this.options.policy === 'block' && ring.free === 0) return false;
    let decoded;
    try {
      decoded = decodeFrame(data);
    } catch (err) {
      if (!(err instanceof FrameFormatError)) throw err;
      // A header with intact magic still names its seq: that frame is then not reported missing as well.
      const seq =
        err.reason !== 'short-message' && err.reason !== 'bad-magic' && data.byteLength >= 8
          ? data.readUInt32LE(4)
          : undefined;
      this.reject(err.reason, seq, err.message);
      return true;
    }
    const { header, payload } = decoded;
    // The seq is checked before anything is stored: out of range or repeated, it is invalid.
    const refused = ledger.admit(header.seq);
    if (refused) {
      this.logRejection(refused, header.seq, `frame ${header.seq}: ${REFUSAL_TEXT[refused]}`);
      return true;
    }
    if (discard) {
      ledger.drop(discard, header.seq);
      return true;
    }
    let slot = ring.write(header, payload);
    if (slot < 0) {
      // drop-oldest: make room by dropping the oldest frame not yet dispatched.
      const oldest = ring.dropOldestPending();
      if (oldest >= 0) {
        ledger.drop('ring-full', oldest);
        slot = ring.write(header, payload);
      }
      if (slot < 0) {
        // Every slot is in flight: the new frame is the oldest one not dispatched.
        ledger.drop('ring-full', header.seq);
        return true;
      }
    }
    if (payload.byteLength > ring.slotBytes) oversizeFrames.inc();
    this.options.onFrame();
    return true;
  }

  private reject(reason: InvalidReason, seq: number | undefined, message: string): void {
    const counted = this.options.ledger.invalid(reason, seq);
    this.logRejection(
      counted,
      seq,
      counted === reason ? message : `frame ${seq}: ${REFUSAL_TEXT[counted] ?? counted}`,
    );
  }

  private logRejection(reason: InvalidReason, seq: number | undefined, message: string): void {
    const count = this.options.ledger.invalidCount(reason);
    if (shouldLog(count)) log.warn('invalid frame', { reason, seq, detail: message, count });
  }

  /** Slots were released: move held-back frames into the ring and resume the socket when caught up. */
  onSlotsReleased(): void {
    while (this.backlogHead < this.backlog.length) {
      if (!this.ingest(this.backlog[this.backlogHead]!)) break;
      this.backlog[this.backlogHead++] = undefined as unknown as Buffer;
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog.length = 0;
      this.backlogHead = 0;
      if (this.paused) {
        this.paused = false;
        this.socket?.resume();
      }
    }
    ringDepth.set(this.options.ring.depth);
  }

  /** Frames held back while the ring was full (block policy). */
  get backlogSize(): number {
    return this.backlog.length - this.backlogHead;
  }

  /**
   * Gives up the frames held back (a stopped session that will not wait for them): they were received,
   * so each is validated as usual and a valid one is counted as dropped with `reason`. Returns how many.
   */
  discardBacklog(reason: DropReason): number {
    const n = this.backlogSize;
    for (let i = this.backlogHead; i < this.backlog.length; i++) this.ingest(this.backlog[i]!, reason);
    this.backlog.length = 0;
    this.backlogHead = 0;
    return n;
  }

  close(code = 1000): void {
    if (this.socket && this.socket.readyState !== WebSocket.CLOSED) this.socket.close(code);
  }

  /** Closes at once (Ctrl-C): frames still buffered are not read. */
  terminate(): void {
    this.socket?.terminate();
  }
}
