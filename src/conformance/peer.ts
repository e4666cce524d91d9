/**
 * The conformance kit's view of a server: plain WebSocket connections, as any third-party client would
 * open them. Every message the server sends is checked against the published server-message schema (the
 * zod source of schemas/control-server.schema.json); what does not match is recorded as a violation.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { serverMessageSchema, type ServerMessage } from '../common/wire/control.js';
import { decodeFrame, type DecodedFrame } from '../common/wire/header.js';

/** Where the kit keeps the server messages that broke the schema, for the final check. */
export class Violations {
  readonly list: string[] = [];
  messages = 0;

  /** Parses a text message from the server; records (and returns undefined for) anything off-schema. */
  parse(text: string, where: string): ServerMessage | undefined {
    this.messages++;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.list.push(`${where}: not JSON: ${text.slice(0, 80)}`);
      return undefined;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.list.push(
        `${where}: ${text.slice(0, 120)} does not match the schema (${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? ''})`,
      );
      // Still hand it on: a check may explain the difference better than the schema error.
      return json as ServerMessage;
    }
    return parsed.data;
  }
}

export interface Closed {
  code: number;
  reason: string;
}

export class CheckFailure extends Error {}

/** A control connection whose messages queue up, so checks can await them in order. */
export class ControlPeer {
  private readonly queue: ServerMessage[] = [];
  private wake: Array<() => void> = [];
  closedWith: Closed | undefined;
  readonly closed: Promise<Closed>;

  private constructor(
    readonly socket: WebSocket,
    violations: Violations,
  ) {
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        violations.list.push('control socket: a binary message from the server');
        return;
      }
      const message = violations.parse(data.toString(), 'control');
      if (message) this.queue.push(message);
      this.notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        this.notify();
        resolve(this.closedWith);
      });
    });
    socket.on('error', () => undefined);
  }

  static open(url: string, violations: Violations, timeoutMs = 10_000): Promise<ControlPeer> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new CheckFailure(`control server ${url} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(new ControlPeer(socket, violations));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new CheckFailure(`cannot reach the control server at ${url} (${err.message})`));
      });
    });
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const wake of waiting) wake();
  }

  send(message: unknown): void {
    const data = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    this.socket.send(data);
  }

  /** Removes and returns the first queued message matching `predicate`. */
  async next(
    predicate: (m: ServerMessage) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<ServerMessage> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex(predicate);
      if (index >= 0) return this.queue.splice(index, 1)[0]!;
      if (this.closedWith) {
        throw new CheckFailure(`control socket closed (${this.closedWith.code}) while waiting for ${what}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new CheckFailure(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages received and not taken yet (a check that something did NOT arrive looks here). */
  pending(): readonly ServerMessage[] {
    return this.queue;
  }

  /** Sends `message`, returns the next reply of type `type` or `error`. */
  request(message: unknown, type: ServerMessage['type'], timeoutMs?: number): Promise<ServerMessage> {
    this.send(message);
    return this.next((m) => m.type === type || m.type === 'error', `"${type}" or "error"`, timeoutMs);
  }

  /** Like request, but the reply must be `type`. */
  async expect<T extends ServerMessage['type']>(
    message: unknown,
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const reply = await this.request(message, type, timeoutMs);
    if (reply.type !== type) throw new CheckFailure(`expected "${type}", got ${JSON.stringify(reply)}`);
    return reply as Extract<ServerMessage, { type: T }>;
  }

  /** Sends `message`; the reply must be an `error` with `code`. */
  async expectError(message: unknown, code: string, timeoutMs?: number): Promise<void> {
    this.send(message);
    const reply = await this.next(() => true, `an "error" ${code}`, timeoutMs);
    if (reply.type !== 'error' || reply.code !== code) {
      throw new CheckFailure(`expected error ${code}, got ${JSON.stringify(reply).slice(0, 200)}`);
    }
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000);
    }
  }
}

export interface ReceivedFrame {
  frame: DecodedFrame;
  /** performance.now() at arrival. */
  at: number;
}

/** A frame socket: binary messages are decoded frames, text messages server errors. */
export class FramePeer {
  readonly frames: ReceivedFrame[] = [];
  readonly texts: ServerMessage[] = [];
  readonly undecodable: string[] = [];
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  private onFrameHooks: Array<(frame: ReceivedFrame) => void> = [];
  private onTextHooks: Array<(message: ServerMessage) => void> = [];
  readonly socket: WebSocket;

  constructor(url: string, violations: Violations) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        const message = violations.parse(data.toString(), 'frame socket');
        if (message) {
          this.texts.push(message);
          for (const hook of this.onTextHooks) hook(message);
        }
        return;
      }
      try {
        const bytes = data as Buffer;
        const received = { frame: decodeFrame(new Uint8Array(bytes)), at: performance.now() };
        this.frames.push(received);
        for (const hook of this.onFrameHooks) hook(received);
      } catch (err) {
        this.undecodable.push((err as Error).message);
      }
    });
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.socket.on('error', () => undefined);
  }

  /** Resolves when `n` frames have arrived (or rejects when the socket closes first). */
  framesArrived(n: number): Promise<void> {
    if (this.frames.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.onFrameHooks.push(() => {
        if (this.frames.length >= n) resolve();
      });
      void this.closed.then((closed) =>
        reject(
          new CheckFailure(`frame socket closed (${closed.code}) after ${this.frames.length} of ${n} frames`),
        ),
      );
    });
  }

  /** Resolves with the first text message (a server error) on this socket. */
  firstText(): Promise<ServerMessage> {
    if (this.texts[0]) return Promise.resolve(this.texts[0]);
    return new Promise((resolve, reject) => {
      this.onTextHooks.push(resolve);
      void this.closed.then(() =>
        this.texts[0]
          ? resolve(this.texts[0])
          : reject(new CheckFailure('frame socket closed with no error message')),
      );
    });
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000);
    }
  }
}

/** Races `promise` against a timeout that fails the check with `what`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
