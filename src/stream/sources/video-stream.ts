/**
 * A network video stream as a frame source (`serve --source rtsp://… | http(s)://…`): RTSP or MJPEG over
 * HTTP, decoded by ffmpeg to JPEG frames. Frames are stamped with the wall-clock time they arrived
 * (ms since the epoch, spaced as the stream spaced them). With `rtspListen`, ffmpeg listens at the rtsp://
 * address and the camera pushes to it (RTSP ANNOUNCE/RECORD) instead of being pulled. At fps F > 0 at most F frames a second are kept; fps 0 keeps every frame.
 *
 * A stream that drops (ffmpeg exits) or stalls (no frame within the stall timeout: ffmpeg is killed) is
 * counted, logged and reconnected with exponential backoff, like the camera source; the session keeps
 * going and frames resume when the stream is back. Each session has its own connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { videoErrors, videoFrames, videoReconnects } from '../metrics.js';
import { decodeVideo, VideoDecodeError, type DecodedFrame } from '../video-decoder.js';
import { videoSourceFrame } from './video-file.js';
import type { FrameIteratorOptions, FrameSource, SourceFrame, VideoSourceOptions } from './source.js';

const log = loggerFor('stream.video');

/** `--source` values opened as network streams. */
export const VIDEO_STREAM_URL = /^(rtsps?|https?):\/\//i;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

/**
 * ffmpeg input options per protocol: a bounded socket timeout, frame times from the arrival clock (an
 * MJPEG stream has none of its own), and for RTSP in listen mode, waiting for the camera to push.
 */
function inputOptions(url: string, stallMs: number, rtspListen: boolean): string[] {
  const micros = String(Math.round(stallMs * 1000));
  const common = ['-use_wallclock_as_timestamps', '1'];
  if (/^rtsps?:/i.test(url)) {
    if (rtspListen) return [...common, '-rtsp_flags', 'listen', '-listen_timeout', '-1'];
    return [...common, '-rtsp_transport', 'tcp', '-timeout', micros];
  }
  return [...common, '-rw_timeout', micros];
}

/** The URL with any user:password removed, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '***';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return url;
  }
}

class Stalled extends Error {}

export async function openVideoStreamSource(
  url: string,
  options: VideoSourceOptions,
  name = url,
): Promise<FrameSource> {
  try {
    new URL(url);
  } catch {
    throw new UserError(
      `source ${url}: expected a URL like rtsp://host:port/path or http://host:port/stream`,
    );
  }
  const shown = redactUrl(url);
  const stallMs = options.stallTimeoutSeconds * 1000;
  return {
    // Nothing is probed up front: many cameras (and ffmpeg's own listen mode) serve one connection at a time.
    info: { name, labelled: false, selfPaced: true },
    async *frames({ count, signal, fps = 0 }: FrameIteratorOptions): AsyncIterableIterator<SourceFrame> {
      const wanted = count ?? Infinity;
      let sent = 0;
      let failures = 0;
      while (sent < wanted && !signal.aborted) {
        const attempt = new AbortController();
        const onAbort = () => attempt.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        const frames = decodeVideo({
          input: url,
          signal: attempt.signal,
          inputOptions: inputOptions(url, stallMs, options.rtspListen ?? false),
          ...(fps > 0 ? { maxFps: fps } : {}),
          frameSize: options.frameSize,
        });
        let reason: string | undefined;
        let error = '';
        // Frame times: the stream's own spacing (ffmpeg's times from 0 per connection), anchored at the
        // wall clock when the connection's first frame arrived, so they read as ms since the epoch.
        let epochAnchor: number | undefined;
        try {
          for (;;) {
            // The watchdog runs only while waiting for ffmpeg, never while the receiver is slow.
            let timer: NodeJS.Timeout | undefined;
            const stalled = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Stalled(`no frame within ${stallMs} ms`)), stallMs);
            });
            let next: IteratorResult<DecodedFrame>;
            try {
              next = await Promise.race([frames.next(), stalled]);
            } finally {
              clearTimeout(timer);
            }
            if (next.done) {
              reason = 'failed';
              error = 'stream ended';
              break;
            }
            if (failures > 0) log.info('video stream recovered', { source: shown, afterFailures: failures });
            failures = 0;
            videoFrames.inc({ kind: 'stream' });
            sent++;
            const frame = next.value;
            epochAnchor ??= Date.now() - (Number.isFinite(frame.timeMs) ? frame.timeMs : 0);
            const timeMs = Number.isFinite(frame.timeMs) ? epochAnchor + frame.timeMs : Date.now();
            yield videoSourceFrame({ ...frame, timeMs }, 'stream', 'epoch');
            if (sent >= wanted || signal.aborted) break;
          }
        } catch (err) {
          if (err instanceof Stalled) reason = 'stall';
          else if (err instanceof VideoDecodeError) reason = err.reason;
          else reason = 'failed';
          error = errorMessage(err);
        } finally {
          attempt.abort();
          signal.removeEventListener('abort', onAbort);
          // Kills ffmpeg and waits until it is reaped.
          await frames.return(undefined);
        }
        if (signal.aborted || sent >= wanted || reason === undefined) break;
        failures++;
        videoErrors.inc({ reason });
        // A missing ffmpeg does not come back by retrying: the session fails with that one line.
        if (reason === 'missing-ffmpeg') throw new UserError(error);
        const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 16));
        log.warn('video stream lost; reconnecting', {
          source: shown,
          reason,
          error,
          consecutiveFailures: failures,
          retryInMs: backoff,
        });
        await sleep(backoff, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        videoReconnects.inc();
      }
    },
    async close() {},
  };
}
