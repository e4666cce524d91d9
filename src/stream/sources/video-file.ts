/**
 * A video file as a frame source (`serve --source clip.mp4`): decoded by ffmpeg to JPEG frames that carry
 * their presentation time. At fps F > 0 the first frame of each 1/F second of video is kept and frames go
 * out no faster than the video plays (paced by the video's own timestamps, so a 25 fps file asked for at
 * 100 fps still plays at 25); at fps 0 every frame goes out as fast as the receiver drains.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, errorMessage } from '../../common/errors.js';
import { probeVideo } from '../../common/ffmpeg.js';
import { loggerFor } from '../../common/logger.js';
import { FrameEncoding } from '../../common/wire/header.js';
import { formatMediaTime, withSourceTime } from '../../common/wire/frame-time.js';
import { videoErrors, videoFrames } from '../metrics.js';
import { decodeVideo, VideoDecodeError } from '../video-decoder.js';
import type { FrameIteratorOptions, FrameSource, SourceFrame, VideoSourceOptions } from './source.js';

const log = loggerFor('stream.video');

/** File extensions opened as video files by `--source`. */
export const VIDEO_FILE_EXTENSION = /\.(mp4|m4v|mov|avi|mkv|webm|mpe?g|ts|m2ts|flv|wmv|ogv|3gp|mjpe?g)$/i;

/** Lateness beyond which pacing re-anchors on the late frame instead of bursting to catch up. */
const MAX_LATE_MS = 250;

/** The JPEG frame a video source sends: the time written into its payload and kept beside it. */
export function videoSourceFrame(
  decoded: { jpeg: Buffer; timeMs: number; width: number; height: number },
  label: string,
  clock: 'video' | 'epoch' = 'video',
): SourceFrame {
  const timed = Number.isFinite(decoded.timeMs);
  const at = () =>
    clock === 'epoch' ? new Date(decoded.timeMs).toISOString() : formatMediaTime(decoded.timeMs);
  return {
    width: decoded.width,
    height: decoded.height,
    channels: 3,
    encoding: FrameEncoding.jpeg,
    payload: timed ? withSourceTime(decoded.jpeg, decoded.timeMs) : decoded.jpeg,
    ...(timed ? { sourceTimeMs: decoded.timeMs, file: `${label}@${at()}` } : {}),
  };
}

/**
 * Probes `file` and decodes its first frame, so a file that is not a video, a codec this ffmpeg cannot
 * decode or a missing ffmpeg fails here, once, with a one-line UserError naming the file.
 */
export async function openVideoFileSource(
  file: string,
  options: VideoSourceOptions,
  name = file,
): Promise<FrameSource> {
  const probe = await probeVideo(file);
  let first: { width: number; height: number } | undefined;
  const check = new AbortController();
  try {
    for await (const frame of decodeVideo({
      input: file,
      frameSize: options.frameSize,
      signal: check.signal,
    })) {
      first = frame;
      break;
    }
  } catch (err) {
    if (err instanceof VideoDecodeError) {
      videoErrors.inc({ reason: err.reason });
      throw new UserError(`${err.message} (codec ${probe.codec})`);
    }
    throw new UserError(`${file}: cannot decode (${errorMessage(err)})`);
  } finally {
    check.abort();
  }
  if (!first) throw new UserError(`${file}: no video frames decoded (codec ${probe.codec})`);
  log.info('video file opened', {
    file,
    codec: probe.codec,
    size: `${probe.width}x${probe.height}`,
    sent: `${first.width}x${first.height}`,
    fps: probe.fps,
    durationSeconds: probe.durationSeconds,
  });
  const label = path.basename(file);
  return {
    info: {
      name,
      width: first.width,
      height: first.height,
      channels: 3,
      labelled: false,
      // Paced by the video's timestamps (fps > 0): the server sends each frame as the source yields it.
      selfPaced: true,
    },
    async *frames({ count, signal, fps = 0 }: FrameIteratorOptions): AsyncIterableIterator<SourceFrame> {
      const wanted = count ?? Infinity;
      let sent = 0;
      let anchor: { wall: number; video: number } | undefined;
      try {
        for await (const decoded of decodeVideo({
          input: file,
          signal,
          ...(fps > 0 ? { maxFps: fps } : {}),
          frameSize: options.frameSize,
        })) {
          if (fps > 0 && Number.isFinite(decoded.timeMs)) {
            const now = performance.now();
            anchor ??= { wall: now, video: decoded.timeMs };
            const due = anchor.wall + (decoded.timeMs - anchor.video);
            if (now - due > MAX_LATE_MS) anchor = { wall: now, video: decoded.timeMs };
            else if (due > now) await sleep(due - now, undefined, { signal }).catch(() => undefined);
            if (signal.aborted) break;
          }
          videoFrames.inc({ kind: 'file' });
          yield videoSourceFrame(decoded, label);
          if (++sent >= wanted) break;
        }
      } catch (err) {
        if (err instanceof VideoDecodeError) {
          // A file damaged part-way: what was decoded went out; the session ends with the frames it has.
          videoErrors.inc({ reason: err.reason });
          log.warn('video decoding stopped early', { file, sent, error: err.message });
          if (sent === 0) throw err;
          return;
        }
        throw err;
      }
    },
    async close() {},
  };
}
