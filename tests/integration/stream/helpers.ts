/** Test helpers: a plain `ws` control client and frame receiver, as any third-party client would write them. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { decodeFrame, type DecodedFrame } from '../../../src/common/wire/header.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { type StreamServerOptions } from '../../../src/stream/server.js';
import { FASHION_MNIST_DIR } from '../../test-data.js';

export { FASHION_MNIST_DIR } from '../../test-data.js';

export async function tempDir(prefix = 'framesift-stream-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  return startStreamServer({
    framesPort: 0,
    controlPort: 0,
    fashionMnistDir: FASHION_MNIST_DIR,
    resultsDir: await tempDir('framesift-results-'),
    ...options,
  });
}

export type Message = { type: string; [key: string]: unknown };

/** A control connection that queues every message so tests can await them in order. */
export class ControlClient {
  readonly messages: Message[] = [];
  private waiters: Array<() => void> = [];
  closeCode?: number;
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as Message);
      this.wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  static async connect(server: StreamServer): Promise<ControlClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${server.controlPort}/`);
    const client = new ControlClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Removes and returns the first queued message matching `predicate`, waiting up to `timeoutMs`. */
  async next(predicate: (m: Message) => boolean = () => true, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex(predicate);
      if (index >= 0) return this.messages.splice(index, 1)[0]!;
      if (this.closeCode !== undefined) throw new Error(`control socket closed (${this.closeCode})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching control message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  nextOfType(type: string, timeoutMs?: number): Promise<Message> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  async request(message: unknown, replyType: string): Promise<Message> {
    this.send(message);
    return this.next((m) => m.type === replyType || m.type === 'error');
  }

  close(): void {
    this.socket.close();
  }
}

export interface Received {
  frames: DecodedFrame[];
  closeCode: number;
  /** performance-free wall times: first frame and close, ms since epoch. */
  firstAt?: number;
  closedAt: number;
  texts: string[];
}

/**
 * Connects a frame socket and collects every frame until the server closes it. `onFrame` may pause the
 * socket (a slow reader).
 */
export function receiveFrames(
  url: string,
  onFrame?: (frame: DecodedFrame, socket: WebSocket, index: number) => void,
): { socket: WebSocket; done: Promise<Received> } {
  const socket = new WebSocket(url);
  const frames: DecodedFrame[] = [];
  const texts: string[] = [];
  let firstAt: number | undefined;
  const done = new Promise<Received>((resolve, reject) => {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        texts.push(data.toString());
        return;
      }
      firstAt ??= Date.now();
      const frame = decodeFrame(new Uint8Array(data as Buffer));
      frames.push(frame);
      onFrame?.(frame, socket, frames.length - 1);
    });
    socket.on('close', (closeCode) => resolve({ frames, closeCode, firstAt, closedAt: Date.now(), texts }));
    socket.on('error', reject);
  });
  return { socket, done };
}

/** Starts a session and receives all its frames and its `end`. */
export async function streamSession(
  server: StreamServer,
  start: Record<string, unknown>,
): Promise<{ session: Message; end: Message; received: Received; control: ControlClient }> {
  const control = await ControlClient.connect(server);
  const session = await control.request({ type: 'start', ...start }, 'session');
  if (session.type !== 'session') throw new Error(`start failed: ${JSON.stringify(session)}`);
  const { done } = receiveFrames(session.framesUrl as string);
  const received = await done;
  const end = await control.nextOfType('end');
  return { session, end, received, control };
}
