/** The stream server's options and its handle (src/stream/server.ts). */
import type { SessionStatus } from '../../common/wire/control.js';
import type { CameraSourceOptions, VideoSourceOptions } from '../sources/source.js';

export interface StreamServerOptions {
  /** Bind address; default 127.0.0.1 (use 0.0.0.0 to expose). */
  host?: string;
  /** 0 = any free port; default 6000. */
  framesPort?: number;
  /** 0 = any free port; default 7000. */
  controlPort?: number;
  /** The source streamed when `start` names none; default fashion-mnist-test. */
  source?: string;
  fashionMnistDir?: string;
  camera?: CameraSourceOptions;
  /** Video files and network streams: frame-size bound, stall timeout, RTSP listen mode. */
  video?: VideoSourceOptions;
  /** Where submissions and scores are written; default out/server. */
  resultsDir?: string;
  /** A session whose frame socket has not connected within this time expires; default 30 s. */
  sessionTimeoutMs?: number;
  /** Largest control message accepted; default 64 MiB. */
  maxPayloadBytes?: number;
  /**
   * Backpressure: while more than this many bytes wait in a frame socket's send buffer, the session waits
   * (fps 0: until the receiver drains; paced: the schedule re-anchors after the stall). Default 1 MiB.
   */
  highWaterBytes?: number;
  /** Finished sessions kept for status and late submissions; the oldest are forgotten first. Default 1000. */
  maxFinishedSessions?: number;
  /** Web origins allowed to open the WebSockets (comma-separated); default none (no Origin passes). */
  allowedOrigins?: string;
  /** When set, every connection to either port must carry it (Authorization: Bearer, or ?token=). */
  token?: string;
  /** Sessions waiting for their frame socket, all connections together; default 1000. */
  maxPendingSessions?: number;
  /** Sessions one control connection may have waiting for their frame socket; default 16. */
  maxPendingPerConnection?: number;
  /** Submissions one session may have scored; default 10. */
  maxSubmissions?: number;
  /** Largest control message handled (a submission); bigger ones are answered too-large. Default 16 MiB. */
  maxSubmitBytes?: number;
}

export interface StreamServer {
  host: string;
  framesPort: number;
  controlPort: number;
  /** Source names a client may ask for. */
  sources: string[];
  /** Internal view of the sessions (for tests and the demo). */
  sessions(): SessionSnapshot[];
  /** Stops streaming, closes every socket with 1001, waits for pending result writes. Idempotent. */
  close(): Promise<void>;
}

export interface SessionSnapshot extends SessionStatus {
  fps: number;
  durationMs?: number;
  /** Highest send-buffer fill observed, bytes: shows backpressure kept memory bounded. */
  maxBufferedBytes: number;
  reanchors: number;
  submissions: number;
}
