/**
 * The `rate` control message: a running session's frame rate changes live. The server acknowledges with
 * the new rate, the schedule follows from the next frame (a wait for the old, slow rate is cut short),
 * and bad requests get errors with stable codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamServer } from '../../../src/stream/index.js';
import { ControlClient, receiveFrames, startTestServer } from './helpers.js';

let server: StreamServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('rate control message', () => {
  it('changes a running session’s rate: ack, the server’s session, and the frames’ spacing follow', async () => {
    const control = await ControlClient.connect(server);
    const session = await control.request({ type: 'start', count: 30, fps: 4 }, 'session');
    const sessionId = session.sessionId as string;
    let acked: Promise<unknown> | undefined;
    // After the fourth frame, ask for 400 fps; the wait for frame 5 (250 ms at the old rate) is cut short.
    const { done } = receiveFrames(session.framesUrl as string, (_frame, _socket, index) => {
      if (index === 3) acked = control.request({ type: 'rate', sessionId, fps: 400 }, 'rate');
    });
    const received = await done;
    expect(received.frames).toHaveLength(30);
    expect(await acked).toEqual({ type: 'rate', sessionId, fps: 400 });
    expect(server.sessions().find((s) => s.sessionId === sessionId)!.fps).toBe(400);
    const gaps = received.frames.slice(1).map((f, i) => f.header.sentAt - received.frames[i]!.header.sentAt);
    const slow = median(gaps.slice(0, 3));
    const fast = median(gaps.slice(6));
    // Compared within one run: 250 ms periods before, 2.5 ms after (a shared machine only stretches both).
    expect(fast * 10).toBeLessThan(slow);
    await control.nextOfType('end');
    control.close();
  });

  it('answers unknown sessions, finished sessions and bad rates with stable error codes', async () => {
    const control = await ControlClient.connect(server);
    const unknown = await control.request({ type: 'rate', sessionId: 'nope', fps: 5 }, 'rate');
    expect(unknown).toMatchObject({ type: 'error', code: 'unknown-session' });
    for (const bad of [{ fps: -1 }, { fps: 'fast' }, { fps: 1e9 }, {}]) {
      const reply = await control.request({ type: 'rate', sessionId: 'x', ...bad }, 'rate');
      expect(reply).toMatchObject({ type: 'error', code: 'bad-message' });
      expect(reply.message).toMatch(/^rate: fps/);
    }
    const session = await control.request({ type: 'start', count: 2, fps: 0 }, 'session');
    await receiveFrames(session.framesUrl as string).done;
    await control.nextOfType('end');
    const finished = await control.request({ type: 'rate', sessionId: session.sessionId, fps: 5 }, 'rate');
    expect(finished).toMatchObject({ type: 'error', code: 'unknown-session' });
    control.close();
  });
});
