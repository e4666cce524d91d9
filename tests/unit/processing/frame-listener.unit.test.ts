/**
 * The listener path on a real WebSocket (port 0): every header is validated, bad frames are counted by
 * reason without stopping the stream, and the two ring policies behave as documented.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameRing } from '../../../src/common/frame-ring.js';
import { encodeFrame, type FrameHeader } from '../../../src/common/wire/header.js';
import { SessionAccounting } from '../../../src/processing/accounting.js';
import { MicroBatcher, type Batch } from '../../../src/processing/batcher.js';
import { FrameListener, type RingPolicy } from '../../../src/processing/frame-listener.js';

function frame(seq: number, patch: Partial<FrameHeader> = {}, payload = new Uint8Array(4).fill(seq & 0xff)) {
  return encodeFrame(
    { seq, width: 2, height: 2, channels: 1, encoding: 0, sentAt: Date.now(), ...patch },
    payload,
  );
}

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

/** A frame server that sends `messages` (then closes 1000) once the client connects. */
async function serve(messages: Array<Buffer | string>): Promise<string> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(wss);
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket: WebSocket) => {
    for (const m of messages) socket.send(m, { binary: typeof m !== 'string' });
    socket.close(1000);
  });
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
}

function pipeline(policy: RingPolicy, slots: number, count?: number) {
  const ring = FrameRing.create({ slots, slotBytes: 4 });
  const accounting = new SessionAccounting();
  const seen: number[] = [];
  const gates: Array<() => void> = [];
  let hold = false;
  const listenerRef: { current?: FrameListener } = {};
  const batcher = new MicroBatcher({
    ring,
    batchSize: 2,
    batchWaitMs: 1,
    maxInFlight: 1,
    run: async (batch: Batch) => {
      if (hold) await new Promise<void>((resolve) => gates.push(resolve));
      for (const slot of batch.slots) {
        seen.push(ring.seqOf(slot));
        expect(ring.frame(slot).data[0]).toBe(ring.seqOf(slot) & 0xff);
      }
      accounting.countProcessed(batch.slots.length);
    },
    onBatchError: () => undefined,
    onReleased: () => listenerRef.current?.onSlotsReleased(),
  });
  const listener = new FrameListener({ ring, policy, accounting, batcher, ...(count ? { count } : {}) });
  listenerRef.current = listener;
  return {
    ring,
    accounting,
    seen,
    listener,
    batcher,
    holdBatches: () => (hold = true),
    openGates: () => {
      hold = false;
      for (const g of gates.splice(0)) g();
    },
    finish: async () => {
      await listener.closed;
      await batcher.drain();
      batcher.close();
    },
  };
}

describe('FrameListener', () => {
  it('validates every header, counts each bad frame by reason and keeps going', async () => {
    const badMagic = frame(3);
    badMagic.write('XXXX', 0, 'ascii');
    const url = await serve([
      frame(0),
      Buffer.from([1, 2, 3]), // shorter than a header
      frame(1),
      badMagic,
      frame(2, {}, new Uint8Array(5)), // raw payload of the wrong length
      frame(4, { width: 0 }),
      frame(5, { channels: 2 as 1 }),
      frame(6, { encoding: 7 as 0 }),
      'a text message',
      frame(1), // duplicate
      frame(50), // beyond the session's count
      frame(7, { encoding: 1 }, new Uint8Array(0)), // empty JPEG payload
      frame(8),
      frame(9),
    ]);
    const p = pipeline('block', 8, 20);
    await p.listener.connect(url);
    await p.finish();
    expect(p.accounting.received).toBe(14);
    expect(p.accounting.invalid).toEqual({
      'short-message': 1,
      'bad-magic': 1,
      'bad-payload-length': 1,
      'bad-dimensions': 1,
      'bad-channels': 1,
      'bad-encoding': 1,
      'text-message': 1,
      'duplicate-seq': 1,
      'seq-out-of-range': 1,
      'empty-payload': 1,
    });
    expect(p.seen).toEqual([0, 1, 8, 9]);
    expect(p.accounting.processed).toBe(4);
    expect(p.accounting.settled).toBe(14);
    // Seq 3 came with a broken magic, so it cannot be trusted: it is reported missing.
    expect(p.accounting.missingRanges(20)).toEqual([
      [3, 3],
      [10, 19],
    ]);
  });

  it('block: pauses the socket when the ring is full and loses nothing, in order', async () => {
    const url = await serve(Array.from({ length: 40 }, (_, seq) => frame(seq)));
    const p = pipeline('block', 4);
    p.holdBatches();
    await p.listener.connect(url);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(p.ring.free).toBe(0);
    expect(p.listener.pauses).toBe(1);
    expect(p.listener.backlogSize).toBeGreaterThan(0);
    p.openGates();
    const done = p.finish();
    // later batches pass freely
    await done;
    expect(p.seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(p.accounting.dropped).toEqual({});
    expect(p.accounting.processed).toBe(40);
  });

  it('drop-oldest: drops the oldest waiting frames, counted, and never a frame in flight', async () => {
    const url = await serve(Array.from({ length: 40 }, (_, seq) => frame(seq)));
    const p = pipeline('drop-oldest', 4);
    p.holdBatches();
    await p.listener.connect(url);
    await p.listener.closed;
    p.openGates();
    await p.finish();
    const dropped = p.accounting.dropped['ring-full']!;
    expect(dropped).toBeGreaterThan(0);
    expect(p.accounting.processed + dropped).toBe(40);
    expect(p.seen.slice(0, 2)).toEqual([0, 1]); // the batch already in flight
    expect(p.seen.slice(-2)).toEqual([38, 39]); // the newest survive
    expect([...p.seen].sort((a, b) => a - b)).toEqual(p.seen);
  });

  it('names the address when the frame server cannot be reached', async () => {
    const p = pipeline('block', 4);
    await expect(p.listener.connect('ws://127.0.0.1:1/')).rejects.toThrow(
      /cannot connect the frame socket ws:\/\/127\.0\.0\.1:1\/ \(ECONNREFUSED\)/,
    );
  });
});
