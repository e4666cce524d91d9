/**
 * The one interface every frame source implements (Fashion-MNIST splits, dataset/IDX files, image folders,
 * the camera). The frame server knows only this interface: it asks a source for an iterator per session,
 * stamps each frame with a seq and a header, and keeps the label (if any) on the server for scoring.
 */
import type { FrameEncodingCode } from '../../common/wire/header.js';

/** One frame as a source yields it; the server adds seq and sentAt when it sends it. */
export interface SourceFrame {
  width: number;
  height: number;
  /** 1 gray, 3 RGB (the only values the wire header allows). */
  channels: 1 | 3;
  /** 0 raw uint8 row-major HWC (payload = width×height×channels bytes), 1 JPEG, 2 PNG. */
  encoding: FrameEncodingCode;
  payload: Uint8Array;
  /** Ground-truth class, when the source knows it. Stays on the server: never sent to clients. */
  label?: number;
  /** Where the frame came from (image file name), for logs and reports; never sent. */
  file?: string;
  /**
   * The frame's own time in its source, ms: a video's presentation time from its start (a live stream:
   * when ffmpeg received it, ms since the epoch). Video sources also write it into the JPEG payload
   * (src/common/wire/frame-time.ts), which is how it reaches clients.
   */
  sourceTimeMs?: number;
}

/** What a source tells the server (and, through `session`/`status`, the client) about itself. */
export interface SourceInfo {
  /** The name clients use in `start` (e.g. `fashion-mnist-test`, a file path, `camera`). */
  name: string;
  /** Frames available; undefined for an endless source (camera). */
  length?: number;
  /** Size of every frame, or of the first one for folders/cameras; undefined when not known up front. */
  width?: number;
  height?: number;
  channels?: 1 | 3;
  /** True when frames carry labels, so submissions can be scored. */
  labelled: boolean;
  /**
   * True when the source paces itself (a camera yields a frame when it has one); the server then sends each
   * frame as soon as the source yields it, and the session's `fps` only caps the rate.
   */
  selfPaced: boolean;
}

export interface FrameIteratorOptions {
  /**
   * Frames wanted; undefined = all of a finite source, or forever for an endless one. The server never asks
   * a finite source for more than `info.length`.
   */
  count?: number;
  /** Aborted when the session stops (client `stop`, socket closed, server shutdown). */
  signal: AbortSignal;
  /**
   * The session's frame rate (0 = as fast as the receiver drains). A video source keeps at most this many
   * frames per second of video time and never yields them faster than the video plays.
   */
  fps?: number;
}

/**
 * A frame source. `open*` factories return it ready to stream (files read, folder listed); each session
 * calls `frames()` once and gets its own independent iterator, so several sessions may stream the same
 * source at once.
 */
export interface FrameSource {
  readonly info: SourceInfo;
  frames(options: FrameIteratorOptions): AsyncIterableIterator<SourceFrame>;
  /** Releases what the source holds (timers, HTTP agents); called once at server shutdown. */
  close(): Promise<void>;
}

/**
 * Options of the camera source (`serve --source camera`), resolved from the serve configuration.
 * `src/stream/sources/camera.ts` exports `openCameraSource(options: CameraSourceOptions): Promise<FrameSource>`.
 */
export interface CameraSourceOptions {
  /** REST endpoint returning one JPEG per GET (CAMERA_ADDRESS). */
  address?: string;
  /** Bearer token (CAMERA_TOKEN). */
  token?: string;
  /** Timeout of one request, seconds (CAMERA_TIMEOUT). */
  timeoutSeconds: number;
  /** Polling rate (IMAGES_PER_SECOND). */
  imagesPerSecond: number;
  /** Replay this folder instead of polling the camera (TEST_DATA_FOLDER). */
  testDataFolder?: string;
  /** Largest answer read, bytes (CAMERA_MAX_BYTES); default 32 MiB. */
  maxBytes?: number;
}

export type OpenCameraSource = (options: CameraSourceOptions) => Promise<FrameSource>;

/** Options of the video sources (`serve --source <video file> | rtsp://… | http(s)://…`). */
export interface VideoSourceOptions {
  /** Frames are scaled down to fit this box (`--frame-size`), never up. */
  frameSize?: { width: number; height: number };
  /** A network stream that yields no frame for this long is dropped and reconnected (seconds). */
  stallTimeoutSeconds: number;
  /** rtsp:// sources: listen at the address for a camera that pushes, instead of connecting to it. */
  rtspListen?: boolean;
}
