/**
 * The client end of the control socket (port 7000): JSON requests answered in order, plus the server's
 * unsolicited `end` message. Every failure a user can cause (server unreachable, an `error` reply, a
 * timeout) is a one-line UserError.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import type {
  ClientMessage,
  EndMessage,
  ErrorMessage,
  ScoredMessage,
  ServerMessage,
  SessionMessage,
  StatusMessage,
  StoppedMessage,
} from '../common/wire/control.js';

const log = loggerFor('processing.control');

interface Waiter {
  types: readonly string[];
  what: string;
  resolve: (message: ServerMessage) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface ControlClientOptions {
  /** How long to wait for the connection to open. */
  connectTimeoutMs?: number;
  /** Largest message accepted (a `scored` reply with a confusion matrix is small). */
  maxPayloadBytes?: number;
  /** The server's token (`--token`), sent as `Authorization: Bearer`. */
  token?: string;
}

export class ControlClient extends EventEmitter<{ end: [EndMessage]; close: [] }> {
  private readonly waiters: Waiter[] = [];
  private closed = false;
  /** The `end` message, once the server has sent it. */
  endMessage: EndMessage | undefined;

  private constructor(
    private readonly socket: WebSocket,
    readonly url: string,
  ) {
    super();
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => {
      this.closed = true;
      this.failAll(new UserError(`control connection to ${url} closed by the server`));
      this.emit('close');
    });
    socket.on('error', (err) => log.warn('control socket error', { url, error: errorMessage(err) }));
  }

  /** Connects to the control server; a UserError naming the address when it cannot be reached. */
  static connect(url: string, options: ControlClientOptions = {}): Promise<ControlClient> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        maxPayload: options.maxPayloadBytes ?? 64 * 1024 * 1024,
        ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
      });
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new UserError(`control server ${url} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, url));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        const code = (err as NodeJS.ErrnoException).code;
        reject(
          new UserError(
            `cannot reach the control server at ${url} (${code ?? errorMessage(err)}): is "framesift serve" running there?`,
          ),
        );
      });
    });
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) {
      log.warn('binary message on the control socket ignored', { url: this.url });
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString()) as ServerMessage;
    } catch {
      log.warn('control message is not JSON: ignored', { url: this.url });
      return;
    }
    if (message.type === 'end') {
      this.endMessage = message;
      this.emit('end', message);
      return;
    }
    if (message.type === 'error') {
      const waiter = this.waiters.shift();
      const err = message as ErrorMessage;
      if (!waiter) {
        log.warn('control error from server', { code: err.code, detail: err.message });
        return;
      }
      clearTimeout(waiter.timer);
      waiter.reject(new UserError(`server refused ${waiter.what}: ${err.code}: ${err.message}`));
      return;
    }
    const index = this.waiters.findIndex((w) => w.types.includes(message.type));
    if (index < 0) {
      log.debug('unsolicited control message', { type: message.type });
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    clearTimeout(waiter!.timer);
    waiter!.resolve(message);
  }

  private failAll(err: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }

  /** Sends `message` and resolves with the first reply of one of `types` (an `error` reply rejects). */
  request<T extends ServerMessage>(
    message: ClientMessage,
    types: readonly T['type'][],
    timeoutMs = 30_000,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new UserError(`control connection to ${this.url} is closed`));
    return new Promise<T>((resolve, reject) => {
      const what = `"${message.type}"`;
      const waiter: Waiter = {
        types,
        what,
        resolve: resolve as (m: ServerMessage) => void,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new UserError(`no answer to ${what} from ${this.url} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
      this.socket.send(JSON.stringify(message), (err) => {
        if (err) {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          clearTimeout(waiter.timer);
          reject(new UserError(`cannot send ${what} to ${this.url}: ${errorMessage(err)}`));
        }
      });
    });
  }

  start(request: { count?: number; fps?: number; source?: string }): Promise<SessionMessage> {
    return this.request<SessionMessage>({ type: 'start', ...request }, ['session']);
  }

  stop(sessionId: string, timeoutMs = 10_000): Promise<StoppedMessage> {
    return this.request<StoppedMessage>({ type: 'stop', sessionId }, ['stopped'], timeoutMs);
  }

  status(): Promise<StatusMessage> {
    return this.request<StatusMessage>({ type: 'status' }, ['status']);
  }

  submit(sessionId: string, results: Record<string, unknown>, timeoutMs = 120_000): Promise<ScoredMessage> {
    return this.request<ScoredMessage>({ type: 'submit', sessionId, results }, ['scored'], timeoutMs);
  }

  /** Resolves with the `end` message (at once if it already came). */
  waitForEnd(): Promise<EndMessage> {
    if (this.endMessage) return Promise.resolve(this.endMessage);
    return new Promise((resolve) => this.once('end', resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(1000);
  }
}
