/**
 * The listener path on a real WebSocket (port 0): every header is validated, bad frames are counted by
 * reason without stopping the stream, and the two ring policies behave as documented.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { SessionLedger } from '../../../src/common/session/index.js';
import { encodeFrame, type FrameHeader } from '../../../src/common/wire/header.js';
import type { RingPolicy } from '../../../src/processing/frame-listener.js';
import { createIngest } from '../../../src/processing/ingest.js';

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
  const ledger = new SessionLedger(count ? { count } : {});
  const seen: number[] = [];
  const gates: Array<() => void> = [];
  let hold = false;
  const ingest = createIngest({
    dims: { width: 2, height: 2, channels: 1 },
    ringSlots: slots,
    ringPolicy: policy,
    batchSize: 2,
    batchWaitMs: 1,
    maxInFlight: 1,
    ledger,
    run: async (batch, ring) => {
      if (hold) await new Promise<void>((resolve) => gates.push(resolve));
      for (const slot of batch.slots) {
        seen.push(ring.seqOf(slot));
        expect(ring.frame(slot).data[0]).toBe(ring.seqOf(slot) & 0xff);
        ledger.process(ring.seqOf(slot));
      }
    },
  });
  const listener = ingest.listener;
  return {
    ring: ingest.ring,
    ledger,
    seen,
    listener,
    holdBatches: () => (hold = true),
    openGates: () => {
      hold = false;
      for (const g of gates.splice(0)) g();
    },
    finish: async () => {
      await listener.closed;
      await ingest.drain();
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
    const counts = p.ledger.counts(20);
    expect(counts.received).toBe(14);
    expect(counts.invalid).toEqual({
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
    expect(counts.processed).toBe(4);
    expect(p.ledger.reconcile(20).receivedEqualsProcessedPlusDroppedPlusInvalid).toBe(true);
    // Seq 3 came with a broken magic, so it cannot be trusted: it is reported missing.
    expect(p.ledger.missingRanges(20)).toEqual([
      [3, 3],
      [10, 19],
    ]);
  });

  it('block: pauses the socket when the ring is full and loses nothing, in order', async () => {
    const url = await serve(Array.from({ length: 40 }, (_, seq) => frame(seq)));
    const p = pipeline('block', 4);
    p.holdBatches();
    await p.listener.connect(url);
    await vi.waitFor(() => expect(p.listener.pauses).toBe(1));
    expect(p.ring.free).toBe(0);
    expect(p.listener.backlogSize).toBeGreaterThan(0);
    p.openGates();
    const done = p.finish();
    // later batches pass freely
    await done;
    expect(p.seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(p.ledger.counts(40).dropped).toEqual({});
    expect(p.ledger.processed).toBe(40);
  });

  it('drop-oldest: drops the oldest waiting frames, counted, and never a frame in flight', async () => {
    const url = await serve(Array.from({ length: 40 }, (_, seq) => frame(seq)));
    const p = pipeline('drop-oldest', 4);
    p.holdBatches();
    await p.listener.connect(url);
    await p.listener.closed;
    p.openGates();
    await p.finish();
    const dropped = p.ledger.droppedCount('ring-full');
    expect(dropped).toBeGreaterThan(0);
    expect(p.ledger.processed + dropped).toBe(40);
    expect(p.ledger.reconcile(40).reconciled).toBe(true);
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
