import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { MicroBatcher, type Batch } from '../../../src/processing/batcher.js';

function setup(
  options: { slots?: number; batchSize?: number; batchWaitMs?: number; maxInFlight?: number } = {},
) {
  const ring = FrameRing.create({ slots: options.slots ?? 64, slotBytes: 4 });
  const batches: Batch[] = [];
  const settle: Array<(err?: Error) => void> = [];
  const errors: Batch[] = [];
  let released = 0;
  const batcher = new MicroBatcher({
    ring,
    batchSize: options.batchSize ?? 4,
    batchWaitMs: options.batchWaitMs ?? 5,
    maxInFlight: options.maxInFlight ?? 2,
    run: (batch) =>
      new Promise<void>((resolve, reject) => {
        batches.push(batch);
        settle.push((err) => (err ? reject(err) : resolve()));
      }),
    onBatchError: (batch) => errors.push(batch),
    onReleased: () => released++,
  });
  let seq = 0;
  const add = (n: number) => {
    for (let i = 0; i < n; i++) {
      ring.write({ seq: seq++, width: 2, height: 2, channels: 1, encoding: 0, sentAt: 0 }, new Uint8Array(4));
      batcher.frameAdded();
    }
  };
  const seqs = (batch: Batch) => Array.from(batch.slots, (slot) => ring.seqOf(slot));
  return { ring, batcher, batches, settle, errors, add, seqs, released: () => released };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('dispatches a full batch at once, in seq order', () => {
    const t = setup({ batchSize: 4 });
    t.add(3);
    expect(t.batches).toHaveLength(0);
    t.add(1);
    expect(t.batches).toHaveLength(1);
    expect(t.seqs(t.batches[0]!)).toEqual([0, 1, 2, 3]);
    t.add(4);
    expect(t.seqs(t.batches[1]!)).toEqual([4, 5, 6, 7]);
    t.batcher.close();
  });

  it('dispatches a partial batch after the wait, not before', () => {
    vi.useFakeTimers();
    const t = setup({ batchSize: 8, batchWaitMs: 5 });
    t.add(3);
    vi.advanceTimersByTime(4);
    expect(t.batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(t.batches).toHaveLength(1);
    expect(t.seqs(t.batches[0]!)).toEqual([0, 1, 2]);
    t.batcher.close();
  });

  it('bounds the batches in flight; frames queue in the ring and go out as batches complete', async () => {
    const t = setup({ batchSize: 4, maxInFlight: 2 });
    t.add(16);
    expect(t.batches).toHaveLength(2);
    expect(t.batcher.batchesInFlight).toBe(2);
    expect(t.ring.pending).toBe(8);
    t.settle[0]!();
    await flush();
    // batch 1's slots were released, then the next batch went out
    expect(t.released()).toBe(1);
    expect(t.batches).toHaveLength(3);
    expect(t.seqs(t.batches[2]!)).toEqual([8, 9, 10, 11]);
    expect(t.ring.depth).toBe(12);
    t.batcher.close();
  });

  it('a failed batch is reported, its slots released, and batching goes on', async () => {
    const t = setup({ batchSize: 2, maxInFlight: 1 });
    t.add(4);
    t.settle[0]!(new Error('worker crashed'));
    await flush();
    expect(t.errors.map(t.seqs)).toEqual([[0, 1]]);
    expect(t.batches).toHaveLength(2);
    t.settle[1]!();
    await flush();
    expect(t.ring.depth).toBe(0);
    t.batcher.close();
  });

  it('drain sends the remainder without waiting and resolves when nothing is pending or in flight', async () => {
    const t = setup({ batchSize: 4, batchWaitMs: 10_000, maxInFlight: 1 });
    t.add(6);
    let drained = false;
    const done = t.batcher.drain().then(() => (drained = true));
    expect(t.batches).toHaveLength(1);
    t.settle[0]!();
    await flush();
    expect(t.seqs(t.batches[1]!)).toEqual([4, 5]);
    expect(drained).toBe(false);
    t.settle[1]!();
    await done;
    expect(t.ring.depth).toBe(0);
    t.batcher.close();
  });
});
