/**
 * The stream server over real sockets on ephemeral ports, streaming real Fashion-MNIST.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameEncoding } from '../../../src/common/wire/header.js';
import type { StreamServer } from '../../../src/stream/index.js';
import {
  ControlClient,
  FASHION_MNIST_DIR,
  receiveFrames,
  startTestServer,
  streamSession,
} from './helpers.js';
import { CALTECH } from '../../test-data.js';

// Read independently of the code under test: skip the 16-byte IDX header of the gunzipped file.
const testImages = gunzipSync(readFileSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')));
const imageAt = (i: number) => testImages.subarray(16 + i * 784, 16 + (i + 1) * 784);

let server: StreamServer;
beforeAll(async () => {
  server = await startTestServer({ highWaterBytes: 64 * 1024 });
});
afterAll(async () => {
  await server.close();
});

describe('stream server', () => {
  it('streams N frames whose pixels are the dataset images in order, then end with sent = N', async () => {
    const { session, end, received } = await streamSession(server, { count: 50, fps: 0 });
    expect(session).toMatchObject({
      count: 50,
      fps: 0,
      width: 28,
      height: 28,
      channels: 1,
      source: 'fashion-mnist-test',
    });
    expect(session.framesUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/\?session=/);
    expect(received.frames.map((f) => f.header.seq)).toEqual([...Array(50).keys()]);
    for (const [i, frame] of received.frames.entries()) {
      expect(frame.header).toMatchObject({ width: 28, height: 28, channels: 1, encoding: FrameEncoding.raw });
      expect(Buffer.from(frame.payload).equals(imageAt(i))).toBe(true);
    }
    expect(end).toMatchObject({ type: 'end', sessionId: session.sessionId, sent: 50 });
    expect(received.closeCode).toBe(1000);
    // Labels stay on the server: a frame is exactly header + 784 pixels.
    expect(received.frames.every((f) => f.payload.byteLength === 784)).toBe(true);
  });

  // How close to the schedule a loaded machine keeps is measured by `npm run bench`, not asserted here: a
  // test only checks what load cannot break — a paced session never sends ahead of its schedule.
  it('paces 200 frames at 100 fps: never ahead of the schedule, and the session lasts its 200 periods', async () => {
    // The schedule starts after the start request, so no frame may leave before `requested` + its slot.
    // (Measuring from frame 0's own time would fail whenever frame 0 itself left late under load.)
    const requested = Date.now();
    const { end, received } = await streamSession(server, { count: 200, fps: 100 });
    expect(received.frames).toHaveLength(200);
    expect(end.sent).toBe(200);
    expect(end.durationMs as number).toBeGreaterThanOrEqual(2000 - 1);
    const sentAt = received.frames.map((f) => f.header.sentAt);
    for (let i = 0; i < sentAt.length; i++) expect(sentAt[i]! - requested).toBeGreaterThanOrEqual(i * 10 - 1);
  });

  it('fps 0 with a slow reader loses nothing and keeps the send buffer bounded', async () => {
    const control = await ControlClient.connect(server);
    const session = await control.request({ type: 'start', count: 10_000, fps: 0 }, 'session');
    const { done } = receiveFrames(session.framesUrl as string, (_frame, socket, index) => {
      // Stall for 100 ms every 2,000 frames: the server must wait, not drop or buffer without bound.
      if (index % 2000 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 100);
      }
    });
    const received = await done;
    const end = await control.nextOfType('end');
    expect(end.sent).toBe(10_000);
    expect(received.frames).toHaveLength(10_000);
    expect(received.frames.every((f, i) => f.header.seq === i)).toBe(true);
    expect(Buffer.from(received.frames[9999]!.payload).equals(imageAt(9999))).toBe(true);
    const snapshot = server.sessions().find((s) => s.sessionId === session.sessionId)!;
    // At most the high-water mark plus the one frame sent when it was last under it.
    expect(snapshot.maxBufferedBytes).toBeLessThanOrEqual(64 * 1024 + 24 + 784);
    control.close();
  });

  it('stop mid-stream answers stopped with the frames sent so far and closes the frame socket', async () => {
    const control = await ControlClient.connect(server);
    const session = await control.request({ type: 'start', count: 1000, fps: 50 }, 'session');
    let sixth!: () => void;
    const streaming = new Promise<void>((resolve) => (sixth = resolve));
    const { done } = receiveFrames(session.framesUrl as string, (_frame, _socket, index) => {
      if (index === 5) sixth();
    });
    await streaming;
    const stopped = await control.request({ type: 'stop', sessionId: session.sessionId }, 'stopped');
    const received = await done;
    expect(stopped.type).toBe('stopped');
    expect(stopped.sent as number).toBeGreaterThan(5);
    expect(stopped.sent as number).toBeLessThan(1000);
    expect(received.frames).toHaveLength(stopped.sent as number);
    expect(received.closeCode).toBe(1000);
    const status = await control.request({ type: 'status' }, 'status');
    const listed = (status.sessions as Array<{ sessionId: string; state: string }>).find(
      (s) => s.sessionId === session.sessionId,
    );
    expect(listed?.state).toBe('stopped');
    // No end after a stop: the server answers in order, so an `end` would have come before this status.
    expect(control.messages.filter((m) => m.type === 'end')).toHaveLength(0);
    control.close();
  });

  it('serves several sessions at once, each from seq 0 with its own count and source', async () => {
    // A server whose default source is a photo folder also offers the Fashion-MNIST splits by name.
    const photos = await startTestServer({ source: CALTECH });
    try {
      const results = await Promise.all([
        streamSession(photos, { count: 30, fps: 200, source: 'fashion-mnist-test' }),
        streamSession(photos, { count: 70, fps: 0, source: 'fashion-mnist-test' }),
        streamSession(photos, { count: 40, fps: 0 }),
      ]);
      expect(results.map((r) => r.end.sent)).toEqual([30, 70, 40]);
      expect(results.map((r) => r.received.frames.length)).toEqual([30, 70, 40]);
      for (const r of results) expect(r.received.frames.every((f, i) => f.header.seq === i)).toBe(true);
      // Different sources: raw Fashion-MNIST pixels for the first two, the folder's JPEGs for the third.
      expect(Buffer.from(results[0]!.received.frames[0]!.payload).equals(imageAt(0))).toBe(true);
      expect(Buffer.from(results[1]!.received.frames[0]!.payload).equals(imageAt(0))).toBe(true);
      expect(results[2]!.session.source).toBe(CALTECH);
      expect(results[2]!.received.frames.every((f) => f.header.encoding === FrameEncoding.jpeg)).toBe(true);
      expect(new Set(results.map((r) => r.session.sessionId)).size).toBe(3);
    } finally {
      await photos.close();
    }
  });

  it("status lists the connection's own sessions and the sources offered", async () => {
    const control = await ControlClient.connect(server);
    const session = await control.request({ type: 'start', count: 3, fps: 0 }, 'session');
    const status = await control.request({ type: 'status' }, 'status');
    expect(status.sources).toEqual(['fashion-mnist-test', 'fashion-mnist-train']);
    // Sessions of other connections (the earlier tests') are not shown.
    expect(status.sessions).toEqual([
      expect.objectContaining({ sessionId: session.sessionId, state: 'waiting', sent: 0, count: 3 }),
    ]);
    control.close();
  });

  it('refuses to start on a file that is not an images file, naming it', async () => {
    const labelsFile = path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
    await expect(startTestServer({ source: labelsFile })).rejects.toThrow(
      /t10k-labels-idx1-ubyte\.gz: IDX magic 0x00000801, expected 0x00000803/,
    );
  });
});

describe('session expiry', () => {
  it('expires a session whose frame socket never connects, reports it and refuses a late socket', async () => {
    const quick = await startTestServer({ sessionTimeoutMs: 200 });
    try {
      const control = await ControlClient.connect(quick);
      const session = await control.request({ type: 'start', count: 5 }, 'session');
      const error = await control.nextOfType('error', 2000);
      expect(error).toMatchObject({ code: 'session-expired', sessionId: session.sessionId });
      expect(error.message).toContain('200 ms');
      expect(quick.sessions().find((s) => s.sessionId === session.sessionId)?.state).toBe('expired');
      const late = await receiveFrames(session.framesUrl as string).done;
      expect(late.frames).toHaveLength(0);
      expect(late.closeCode).toBe(1008);
      expect(JSON.parse(late.texts[0]!)).toMatchObject({ type: 'error', code: 'session-expired' });
      control.close();
    } finally {
      await quick.close();
    }
  });
});
