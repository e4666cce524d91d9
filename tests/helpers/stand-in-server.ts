/**
 * A stand-in stream server on ephemeral loopback ports that sends exactly the frame messages a test gives
 * it — a wild seq, a `session` without the optional fields — and otherwise speaks the real protocol:
 * `session`, frames, `end`, and `scored` computed by the real server's scoring function.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { validateResultsDocument } from '../../src/common/results-document.js';
import type { ScoredMessage, SessionMessage } from '../../src/common/wire/control.js';
import { encodeFrame } from '../../src/common/wire/header.js';
import { loadFashionMnist, scoreSubmission } from '../../src/stream/index.js';

export interface StandInFrame {
  /** The seq written in the header (may be anything a uint32 holds). */
  seq: number;
  /** The Fashion-MNIST test image (and true label) sent as the payload. */
  image: number;
}

export interface StandInOptions {
  frames: StandInFrame[];
  /** Fields of the `session` reply; `count`/`source` are left out when undefined. */
  session: { count?: number; source?: string };
}

export interface StandInServer {
  controlPort: number;
  framesPort: number;
  /** The `scored` replies sent, in order. */
  scored: ScoredMessage[];
  close(): Promise<void>;
}

async function listening(wss: WebSocketServer): Promise<number> {
  await once(wss, 'listening');
  return (wss.address() as AddressInfo).port;
}

export async function startStandInServer(options: StandInOptions): Promise<StandInServer> {
  const { images, labels } = await loadFashionMnist('test');
  const control = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const frames = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const [controlPort, framesPort] = await Promise.all([listening(control), listening(frames)]);
  const scored: ScoredMessage[] = [];
  const sessionId = 'stand-in-session';
  let client: WebSocket | undefined;
  const sent = options.frames.length;
  // The true label of each seq in [0, sent): the image the stand-in meant to send there.
  const truth = options.frames.map((_f, i) => labels[options.frames[i]!.image]!);

  control.on('connection', (socket) => {
    client = socket;
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; results?: unknown };
      if (message.type === 'start') {
        const reply = {
          type: 'session',
          sessionId,
          fps: 0,
          width: 28,
          height: 28,
          channels: 1,
          framesUrl: `ws://127.0.0.1:${framesPort}/?session=${sessionId}`,
          ...(options.session.count !== undefined ? { count: options.session.count } : {}),
          ...(options.session.source !== undefined ? { source: options.session.source } : {}),
        } as SessionMessage;
        socket.send(JSON.stringify(reply));
      } else if (message.type === 'stop') {
        socket.send(JSON.stringify({ type: 'stopped', sessionId, sent }));
      } else if (message.type === 'submit') {
        const check = validateResultsDocument(message.results);
        if (!check.ok) {
          socket.send(JSON.stringify({ type: 'error', code: 'invalid-results', message: check.errors }));
          return;
        }
        const reply: ScoredMessage = {
          type: 'scored',
          sessionId,
          ...scoreSubmission(check.document, sent, truth),
        };
        scored.push(reply);
        socket.send(JSON.stringify(reply));
      }
    });
  });
  frames.on('connection', (socket) => {
    for (const frame of options.frames) {
      const pixels = images.subarray(frame.image * 784, (frame.image + 1) * 784);
      const header = { seq: frame.seq, width: 28, height: 28, channels: 1 as const, encoding: 0 as const };
      socket.send(encodeFrame({ ...header, sentAt: Date.now() }, pixels));
    }
    client?.send(JSON.stringify({ type: 'end', sessionId, sent }));
    socket.close(1000, 'end of stream');
  });
  return {
    controlPort,
    framesPort,
    scored,
    async close() {
      for (const wss of [control, frames]) {
        for (const c of wss.clients) c.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    },
  };
}
