/**
 * The cross-thread frame ring: a bounded set of fixed-size frame slots in ONE SharedArrayBuffer, written by
 * the listener on the main thread and read in place by the worker threads. A worker receives the buffer
 * once (workerData) and each task only names slot indices, so pixel data is never structured-cloned.
 *
 * Ownership (docs/pipeline.md, "The frame ring"): the main thread acquires a free slot, copies the frame in, queues it as
 * pending; the batcher takes pending slots for a batch (state DISPATCHED); the main thread releases them
 * after it has consumed the batch result, so the results stage and the unique store may still read the
 * pixels of a frame they keep. Workers only read slots in state DISPATCHED.
 *
 * Layout of the buffer (all little-endian, platform order):
 *   control  Int32[CONTROL_WORDS]            capacity, slotBytes, pending head/tail, free count
 *   meta     Int32[capacity × META_WORDS]     state, seq, width, height, channels, encoding, length, flags
 *   sentAt   Float64[capacity]
 *   pending  Int32[capacity]                  FIFO of slot indices (circular; head/tail count up and wrap)
 *   free     Int32[capacity]                  stack of free slot indices
 *   data     Uint8[capacity × slotBytes]
 *
 * A frame larger than a slot (an encoded photo bigger than the session's announced raw size) takes the
 * side path: its bytes go into a SharedArrayBuffer of its own, kept beside the slot (`sidecarOf`) and
 * passed along with the task that names the slot; the slot is flagged OVERSIZE and such frames are
 * counted. Growing the ring in place would need every worker to re-attach, so it is not done.
 */
import type { FrameImage } from './frame-image.js';

export const SlotState = { free: 0, writing: 1, ready: 2, dispatched: 3 } as const;
export type SlotStateCode = (typeof SlotState)[keyof typeof SlotState];

const CONTROL_WORDS = 8;
const C_CAPACITY = 0;
const C_SLOT_BYTES = 1;
const C_PENDING_HEAD = 2; // index of the next pending entry to take (counts up, wraps as uint32)
const C_PENDING_TAIL = 3; // index of the next pending entry to append
const C_FREE_COUNT = 4;

const META_WORDS = 8;
const M_STATE = 0;
const M_SEQ = 1;
const M_WIDTH = 2;
const M_HEIGHT = 3;
const M_CHANNELS = 4;
const M_ENCODING = 5;
const M_LENGTH = 6;
const M_FLAGS = 7;

const FLAG_OVERSIZE = 1;

/** The fields a frame slot records; the same names as the wire header. */
export interface RingFrameInfo {
  seq: number;
  width: number;
  height: number;
  channels: number;
  encoding: number;
  sentAt: number;
}

/** A view of one frame's bytes in the ring (no copy): valid until the slot is released. */
/** A frame read in place from its slot (a view, valid until the slot is released). */
export type RingFrameView = FrameImage;

export interface FrameRingOptions {
  slots: number;
  slotBytes: number;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

export class FrameRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly slotBytes: number;
  private readonly control: Int32Array;
  private readonly meta: Int32Array;
  private readonly sentAt: Float64Array;
  private readonly pendingQueue: Int32Array;
  private readonly freeStack: Int32Array;
  private readonly data: Uint8Array;
  /** Side buffers of oversize frames, by slot (main thread only; passed to workers with the task). */
  private readonly sidecars = new Map<number, Uint8Array>();

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    const head = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.capacity = head[C_CAPACITY]!;
    this.slotBytes = head[C_SLOT_BYTES]!;
    const cap = this.capacity;
    let offset = CONTROL_WORDS * 4;
    this.control = head;
    this.meta = new Int32Array(buffer, offset, cap * META_WORDS);
    offset = align8(offset + cap * META_WORDS * 4);
    this.sentAt = new Float64Array(buffer, offset, cap);
    offset += cap * 8;
    this.pendingQueue = new Int32Array(buffer, offset, cap);
    offset += cap * 4;
    this.freeStack = new Int32Array(buffer, offset, cap);
    offset += cap * 4;
    this.data = new Uint8Array(buffer, offset, cap * this.slotBytes);
  }

  /** Bytes a ring of this shape occupies. */
  static byteLength({ slots, slotBytes }: FrameRingOptions): number {
    return align8(CONTROL_WORDS * 4 + slots * META_WORDS * 4) + slots * 8 + slots * 8 + slots * slotBytes;
  }

  /** A new, empty ring (main thread). */
  static create(options: FrameRingOptions): FrameRing {
    const { slots, slotBytes } = options;
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`ring slots ${slots}: expected ≥ 1`);
    if (!Number.isInteger(slotBytes) || slotBytes < 1) {
      throw new RangeError(`ring slot size ${slotBytes}: expected ≥ 1 byte`);
    }
    const buffer = new SharedArrayBuffer(FrameRing.byteLength(options));
    const control = new Int32Array(buffer, 0, CONTROL_WORDS);
    control[C_CAPACITY] = slots;
    control[C_SLOT_BYTES] = slotBytes;
    const ring = new FrameRing(buffer);
    // Free stack holds every slot, lowest index on top so a fresh ring fills 0, 1, 2, …
    for (let i = 0; i < slots; i++) ring.freeStack[i] = slots - 1 - i;
    Atomics.store(control, C_FREE_COUNT, slots);
    return ring;
  }

  /** The same ring seen from another thread (a worker), given the buffer the main thread created. */
  static attach(buffer: SharedArrayBuffer): FrameRing {
    return new FrameRing(buffer);
  }

  /** Slots not in use. */
  get free(): number {
    return Atomics.load(this.control, C_FREE_COUNT);
  }

  /** Frames written and waiting to be dispatched. */
  get pending(): number {
    return (Atomics.load(this.control, C_PENDING_TAIL) - Atomics.load(this.control, C_PENDING_HEAD)) >>> 0;
  }

  /** Slots in use (pending + dispatched and not yet released). */
  get depth(): number {
    return this.capacity - this.free;
  }

  /**
   * Copies one frame into a free slot and queues it as pending. Returns the slot index, or -1 when the
   * ring is full (the caller applies the ring policy). Main thread only.
   */
  write(info: RingFrameInfo, payload: Uint8Array): number {
    const free = Atomics.load(this.control, C_FREE_COUNT);
    if (free === 0) return -1;
    const slot = this.freeStack[free - 1]!;
    Atomics.store(this.control, C_FREE_COUNT, free - 1);
    const m = slot * META_WORDS;
    Atomics.store(this.meta, m + M_STATE, SlotState.writing);
    this.meta[m + M_SEQ] = info.seq | 0;
    this.meta[m + M_WIDTH] = info.width;
    this.meta[m + M_HEIGHT] = info.height;
    this.meta[m + M_CHANNELS] = info.channels;
    this.meta[m + M_ENCODING] = info.encoding;
    this.meta[m + M_LENGTH] = payload.byteLength;
    this.sentAt[slot] = info.sentAt;
    if (payload.byteLength <= this.slotBytes) {
      this.meta[m + M_FLAGS] = 0;
      this.data.set(payload, slot * this.slotBytes);
    } else {
      this.meta[m + M_FLAGS] = FLAG_OVERSIZE;
      const side = new Uint8Array(new SharedArrayBuffer(payload.byteLength));
      side.set(payload);
      this.sidecars.set(slot, side);
    }
    Atomics.store(this.meta, m + M_STATE, SlotState.ready);
    const tail = Atomics.load(this.control, C_PENDING_TAIL);
    this.pendingQueue[(tail >>> 0) % this.capacity] = slot;
    Atomics.store(this.control, C_PENDING_TAIL, (tail + 1) | 0);
    return slot;
  }

  /**
   * Moves up to `max` pending slots, oldest first, into `out` and marks them dispatched. Returns how many.
   */
  takePending(max: number, out: Int32Array): number {
    const n = Math.min(max, this.pending, out.length);
    let head = Atomics.load(this.control, C_PENDING_HEAD);
    for (let i = 0; i < n; i++) {
      const slot = this.pendingQueue[(head >>> 0) % this.capacity]!;
      Atomics.store(this.meta, slot * META_WORDS + M_STATE, SlotState.dispatched);
      out[i] = slot;
      head = (head + 1) | 0;
    }
    Atomics.store(this.control, C_PENDING_HEAD, head);
    return n;
  }

  /**
   * Drops the oldest pending (not yet dispatched) frame and frees its slot (ring policy drop-oldest).
   * Returns the dropped frame's seq, or -1 when nothing is pending.
   */
  dropOldestPending(): number {
    if (this.pending === 0) return -1;
    const head = Atomics.load(this.control, C_PENDING_HEAD);
    const slot = this.pendingQueue[(head >>> 0) % this.capacity]!;
    Atomics.store(this.control, C_PENDING_HEAD, (head + 1) | 0);
    const seq = this.seqOf(slot);
    this.freeSlot(slot);
    return seq;
  }

  /** Returns a dispatched slot to the free set, after its batch result has been consumed. Main thread. */
  release(slot: number): void {
    const state = Atomics.load(this.meta, slot * META_WORDS + M_STATE);
    if (state !== SlotState.dispatched) {
      throw new Error(`frame ring: release of slot ${slot} in state ${state}, expected dispatched`);
    }
    this.freeSlot(slot);
  }

  private freeSlot(slot: number): void {
    Atomics.store(this.meta, slot * META_WORDS + M_STATE, SlotState.free);
    if (this.sidecars.size > 0) this.sidecars.delete(slot);
    const free = Atomics.load(this.control, C_FREE_COUNT);
    this.freeStack[free] = slot;
    Atomics.store(this.control, C_FREE_COUNT, free + 1);
  }

  stateOf(slot: number): SlotStateCode {
    return Atomics.load(this.meta, slot * META_WORDS + M_STATE) as SlotStateCode;
  }

  seqOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_SEQ]! >>> 0;
  }

  sentAtOf(slot: number): number {
    return this.sentAt[slot]!;
  }

  isOversize(slot: number): boolean {
    return (this.meta[slot * META_WORDS + M_FLAGS]! & FLAG_OVERSIZE) !== 0;
  }

  /** The side buffer of an oversize frame (main thread), to pass along with the task naming the slot. */
  sidecarOf(slot: number): SharedArrayBuffer | undefined {
    return this.sidecars.get(slot)?.buffer as SharedArrayBuffer | undefined;
  }

  /** The side buffers of the oversize frames among `slots`, as [slot, buffer] pairs; undefined if none. */
  sidecarsOf(slots: ArrayLike<number>): Array<[number, SharedArrayBuffer]> | undefined {
    if (this.sidecars.size === 0) return undefined;
    let pairs: Array<[number, SharedArrayBuffer]> | undefined;
    for (let i = 0; i < slots.length; i++) {
      const side = this.sidecars.get(slots[i]!);
      if (side) (pairs ??= []).push([slots[i]!, side.buffer as SharedArrayBuffer]);
    }
    return pairs;
  }

  /** Oversize frames currently held on the side path. */
  get sidecarCount(): number {
    return this.sidecars.size;
  }

  /**
   * The frame in `slot`, as a view (no copy). For an oversize frame, a worker passes the side buffer it
   * received with the task; the main thread finds its own.
   */
  frame(slot: number, sidecar?: SharedArrayBuffer): RingFrameView {
    const m = slot * META_WORDS;
    const length = this.meta[m + M_LENGTH]!;
    let data: Uint8Array;
    if ((this.meta[m + M_FLAGS]! & FLAG_OVERSIZE) !== 0) {
      const side = sidecar ? new Uint8Array(sidecar) : this.sidecars.get(slot);
      if (!side) throw new Error(`frame ring: slot ${slot} is oversize but its side buffer was not given`);
      data = side.subarray(0, length);
    } else {
      const start = slot * this.slotBytes;
      data = this.data.subarray(start, start + length);
    }
    return {
      width: this.meta[m + M_WIDTH]!,
      height: this.meta[m + M_HEIGHT]!,
      channels: this.meta[m + M_CHANNELS]!,
      encoding: this.meta[m + M_ENCODING]! as 0 | 1 | 2,
      data,
    };
  }

  /** Reads only the geometry of a slot (no view created): for the hot path of raw frames. */
  widthOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_WIDTH]!;
  }
  heightOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_HEIGHT]!;
  }
  channelsOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_CHANNELS]!;
  }
  encodingOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_ENCODING]!;
  }
  lengthOf(slot: number): number {
    return this.meta[slot * META_WORDS + M_LENGTH]!;
  }
  /** Byte offset of a (non-oversize) slot's data within `dataBytes`. */
  offsetOf(slot: number): number {
    return slot * this.slotBytes;
  }
  /** The whole data region (a view): the hot path reads raw frames straight from it. */
  get dataBytes(): Uint8Array {
    return this.data;
  }
}

/**
 * Slot size for a session: the raw size of the announced frames, so any raw frame fits and an encoded
 * one almost always does; bounded so the ring stays within `maxRingBytes` (bigger frames take the side
 * path). Without announced dims (a camera), `fallbackBytes`.
 */
export function slotBytesFor(
  dims: { width?: number; height?: number; channels?: number },
  slots: number,
  { maxRingBytes = 256 * 1024 * 1024, fallbackBytes = 256 * 1024 } = {},
): number {
  const raw =
    dims.width && dims.height ? dims.width * dims.height * (dims.channels ?? 3) : Math.max(fallbackBytes, 1);
  const cap = Math.max(1024, Math.floor(maxRingBytes / slots));
  return Math.max(1, Math.min(raw, cap));
}
