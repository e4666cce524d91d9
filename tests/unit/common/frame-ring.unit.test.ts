import { describe, expect, it } from 'vitest';
import { FrameRing, SlotState, slotBytesFor } from '../../../src/common/frame-ring.js';

function frame(seq: number, bytes = 4) {
  const payload = new Uint8Array(bytes).map((_, i) => (seq * 7 + i) & 0xff);
  return { info: { seq, width: 2, height: 2, channels: 1, encoding: 0, sentAt: 1000 + seq }, payload };
}

describe('FrameRing', () => {
  it('starts empty and fills to capacity, then reports full', () => {
    const ring = FrameRing.create({ slots: 3, slotBytes: 4 });
    expect([ring.free, ring.pending, ring.depth]).toEqual([3, 0, 0]);
    const slots = [0, 1, 2].map((seq) => ring.write(frame(seq).info, frame(seq).payload));
    expect(new Set(slots).size).toBe(3);
    expect([ring.free, ring.pending, ring.depth]).toEqual([0, 3, 3]);
    expect(ring.write(frame(3).info, frame(3).payload)).toBe(-1);
  });

  it('keeps FIFO order, frame fields and bytes across many wrap-arounds', () => {
    const ring = FrameRing.create({ slots: 4, slotBytes: 4 });
    const out = new Int32Array(4);
    let next = 0;
    for (let round = 0; round < 50; round++) {
      // write 3, take 2, release 2: the pending queue's head and tail wrap the 4 entries many times
      for (let k = 0; k < 3 && ring.free > 0; k++) {
        const f = frame(next++);
        expect(ring.write(f.info, f.payload)).toBeGreaterThanOrEqual(0);
      }
      const firstSeq = next - ring.pending;
      const n = ring.takePending(2, out);
      for (let i = 0; i < n; i++) {
        const slot = out[i]!;
        expect(ring.stateOf(slot)).toBe(SlotState.dispatched);
        expect(ring.seqOf(slot)).toBe(firstSeq + i);
        expect(ring.sentAtOf(slot)).toBe(1000 + firstSeq + i);
        const view = ring.frame(slot);
        expect(view).toMatchObject({ width: 2, height: 2, channels: 1, encoding: 0 });
        expect([...view.data]).toEqual([...frame(firstSeq + i).payload]);
        ring.release(slot);
        expect(ring.stateOf(slot)).toBe(SlotState.free);
      }
    }
    expect(next).toBeGreaterThan(50);
    expect(ring.depth).toBe(ring.pending);
  });

  it('drop-oldest frees the oldest pending frame, never a dispatched one', () => {
    const ring = FrameRing.create({ slots: 3, slotBytes: 4 });
    for (let seq = 0; seq < 3; seq++) ring.write(frame(seq).info, frame(seq).payload);
    const out = new Int32Array(1);
    ring.takePending(1, out); // seq 0 is in flight
    expect(ring.dropOldestPending()).toBe(1);
    expect(ring.free).toBe(1);
    const slot = ring.write(frame(3).info, frame(3).payload);
    expect(ring.seqOf(slot)).toBe(3);
    expect(ring.dropOldestPending()).toBe(2);
    expect(ring.dropOldestPending()).toBe(3);
    expect(ring.dropOldestPending()).toBe(-1);
    expect(ring.stateOf(out[0]!)).toBe(SlotState.dispatched);
  });

  it('refuses to release a slot that was not dispatched', () => {
    const ring = FrameRing.create({ slots: 2, slotBytes: 4 });
    const slot = ring.write(frame(0).info, frame(0).payload);
    expect(() => ring.release(slot)).toThrow(/expected dispatched/);
  });

  it('keeps a frame larger than a slot on the side path, readable from another attachment', () => {
    const ring = FrameRing.create({ slots: 2, slotBytes: 4 });
    const big = frame(9, 10);
    const slot = ring.write({ ...big.info, encoding: 1 }, big.payload);
    expect(ring.isOversize(slot)).toBe(true);
    const side = ring.sidecarOf(slot);
    expect(side).toBeInstanceOf(SharedArrayBuffer);
    const other = FrameRing.attach(ring.buffer); // what a worker sees
    expect(() => other.frame(slot)).toThrow(/side buffer/);
    expect([...other.frame(slot, side).data]).toEqual([...big.payload]);
    const out = new Int32Array(1);
    ring.takePending(1, out);
    ring.release(slot);
    expect(ring.sidecarOf(slot)).toBeUndefined();
  });

  it('a second attachment sees the same slots and states', () => {
    const ring = FrameRing.create({ slots: 8, slotBytes: 784 });
    const other = FrameRing.attach(ring.buffer);
    expect([other.capacity, other.slotBytes]).toEqual([8, 784]);
    const payload = new Uint8Array(784).fill(200);
    const slot = ring.write(
      { seq: 4_000_000_000, width: 28, height: 28, channels: 1, encoding: 0, sentAt: 5 },
      payload,
    );
    expect(other.seqOf(slot)).toBe(4_000_000_000);
    expect(other.stateOf(slot)).toBe(SlotState.ready);
    expect(other.dataBytes[other.offsetOf(slot) + 783]).toBe(200);
  });

  it('sizes slots from the announced dims, bounded by the ring budget', () => {
    expect(slotBytesFor({ width: 28, height: 28, channels: 1 }, 1024)).toBe(784);
    expect(slotBytesFor({ width: 4000, height: 3000, channels: 3 }, 1024, { maxRingBytes: 64 << 20 })).toBe(
      65536,
    );
    expect(slotBytesFor({}, 16)).toBe(256 * 1024);
    expect(() => FrameRing.create({ slots: 0, slotBytes: 4 })).toThrow(RangeError);
  });
});
