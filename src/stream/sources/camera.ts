/**
 * The camera source (`serve --source camera`): polls a camera REST endpoint that returns one JPEG per GET
 * (CAMERA_ADDRESS, bearer CAMERA_TOKEN), IMAGES_PER_SECOND times a second, each request bounded by
 * CAMERA_TIMEOUT. A timeout, an HTTP error or a body that is not an image is counted, logged and retried
 * with exponential backoff; the stream goes on and frames resume when the camera recovers.
 * With TEST_DATA_FOLDER set, the folder's images (.jpg/.jpeg/.png, any case, name order) are replayed
 * at the same pace instead.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { FramesiftError, UserError, errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { metric, metricsRegistry, prom } from '../../common/metrics.js';
import { FrameEncoding } from '../../common/wire/header.js';
import type { CameraSourceOptions, FrameIteratorOptions, FrameSource, SourceFrame } from './source.js';

const log = loggerFor('stream.camera');
const REPLAY_EXTENSION = /\.(jpe?g|png)$/i;
const MAX_BACKOFF_MS = 10_000;

const cameraErrors = () =>
  metric(
    'framesift_camera_errors_total',
    () =>
      new prom.Counter({
        name: 'framesift_camera_errors_total',
        help: 'Failed camera polls, by reason (timeout, http, not-image, network, too-large).',
        labelNames: ['reason'],
        registers: [metricsRegistry],
      }),
  );
const cameraFrames = () =>
  metric(
    'framesift_camera_frames_total',
    () =>
      new prom.Counter({
        name: 'framesift_camera_frames_total',
        help: 'Images received from the camera (or replayed from TEST_DATA_FOLDER).',
        registers: [metricsRegistry],
      }),
  );

/** Why a poll failed; the reason is the metric label and the error's code. */
export class CameraPollError extends FramesiftError {
  constructor(
    readonly reason: 'timeout' | 'http' | 'not-image' | 'network' | 'too-large',
    message: string,
  ) {
    super(message, `camera-${reason}`);
  }
}

/** JPEG (FF D8 FF) or PNG (89 50 4E 47) by its first bytes; anything else is not a camera image. */
export function imageEncodingOf(body: Uint8Array): 1 | 2 | undefined {
  if (body.length >= 3 && body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff)
    return FrameEncoding.jpeg as 1;
  if (body.length >= 4 && body[0] === 0x89 && body[1] === 0x50 && body[2] === 0x4e && body[3] === 0x47) {
    return FrameEncoding.png as 2;
  }
  return undefined;
}

/** A frame from encoded image bytes (size from the header; gray images are 1 channel). */
export async function frameFromImage(body: Uint8Array, file?: string): Promise<SourceFrame> {
  const encoding = imageEncodingOf(body);
  if (encoding === undefined) throw new CameraPollError('not-image', 'body is not a JPEG or PNG image');
  let meta: sharp.Metadata;
  try {
    meta = await sharp(body).metadata();
  } catch (err) {
    throw new CameraPollError('not-image', `image header cannot be read (${errorMessage(err)})`);
  }
  if (!meta.width || !meta.height || meta.width > 65535 || meta.height > 65535) {
    throw new CameraPollError('not-image', `image size ${meta.width}x${meta.height} is not usable`);
  }
  const gray = meta.space === 'b-w' || (meta.channels ?? 3) <= 2;
  return {
    width: meta.width,
    height: meta.height,
    channels: gray ? 1 : 3,
    encoding,
    payload: body,
    ...(file !== undefined ? { file } : {}),
  };
}

/** Default of CAMERA_MAX_BYTES: a camera JPEG is a few MB at most. */
export const DEFAULT_CAMERA_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Reads a response body into one buffer, at most `maxBytes`: a declared length over the cap is refused
 * before reading, and a body that grows past it is cancelled mid-stream (memory stays bounded by the cap).
 */
async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new CameraPollError(
      'too-large',
      `answer of ${declared} bytes is over CAMERA_MAX_BYTES=${maxBytes}`,
    );
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new CameraPollError('too-large', `answer passed CAMERA_MAX_BYTES=${maxBytes} bytes: cut off`);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** One GET of the camera: the image, or a CameraPollError saying why not. */
export async function pollCamera(
  address: string,
  token: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
  maxBytes = DEFAULT_CAMERA_MAX_BYTES,
): Promise<SourceFrame> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(address, {
      headers: { accept: 'image/jpeg, image/png', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.any([signal, timeout]),
    });
  } catch (err) {
    if (timeout.aborted) throw new CameraPollError('timeout', `no answer within ${timeoutMs} ms`);
    throw new CameraPollError('network', errorMessage((err as { cause?: unknown }).cause ?? err));
  }
  if (!response.ok) {
    // An error page is not read: its size is the camera's business, not ours.
    await response.body?.cancel().catch(() => undefined);
    throw new CameraPollError('http', `HTTP ${response.status} ${response.statusText}`.trim());
  }
  let body: Uint8Array;
  try {
    body = await readCapped(response, maxBytes);
  } catch (err) {
    if (err instanceof CameraPollError) throw err;
    if (timeout.aborted) throw new CameraPollError('timeout', `body not complete within ${timeoutMs} ms`);
    throw new CameraPollError('network', errorMessage(err));
  }
  return frameFromImage(body);
}

async function replayFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(folder, { withFileTypes: true }))
      .filter((e) => e.isFile() && REPLAY_EXTENSION.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    throw new UserError(`TEST_DATA_FOLDER=${folder}: cannot list the folder (${errorMessage(err)})`);
  }
  if (names.length === 0)
    throw new UserError(`TEST_DATA_FOLDER=${folder}: expected .jpg/.jpeg/.png images, found none`);
  return names.map((n) => path.join(folder, n));
}

export async function openCameraSource(options: CameraSourceOptions): Promise<FrameSource> {
  const intervalMs = 1000 / options.imagesPerSecond;
  const timeoutMs = options.timeoutSeconds * 1000;
  const replay = options.testDataFolder ? await replayFiles(options.testDataFolder) : undefined;
  if (!replay && !options.address) {
    throw new UserError('--source camera: expected CAMERA_ADDRESS (--camera-address) or TEST_DATA_FOLDER');
  }
  const first = replay ? await frameFromImage(await readFile(replay[0]!)).catch(() => undefined) : undefined;
  return {
    info: {
      name: 'camera',
      ...(replay ? { length: replay.length } : {}),
      ...(first ? { width: first.width, height: first.height, channels: first.channels } : {}),
      labelled: false,
      selfPaced: true,
    },
    async *frames({ count, signal }: FrameIteratorOptions): AsyncIterableIterator<SourceFrame> {
      const wanted = count ?? (replay ? replay.length : Infinity);
      let sent = 0;
      let failures = 0;
      let next = performance.now();
      let index = 0;
      while (sent < wanted && !signal.aborted) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        next = Math.max(next + intervalMs, performance.now());
        let frame: SourceFrame;
        try {
          if (replay) {
            if (index >= replay.length) break;
            const file = replay[index++]!;
            frame = await frameFromImage(await readFile(file), path.basename(file)).catch((err: unknown) => {
              throw new CameraPollError('not-image', `${file}: ${errorMessage(err)}`);
            });
          } else {
            frame = await pollCamera(
              options.address!,
              options.token,
              timeoutMs,
              signal,
              options.maxBytes ?? DEFAULT_CAMERA_MAX_BYTES,
            );
          }
        } catch (err) {
          if (signal.aborted) break;
          const reason = err instanceof CameraPollError ? err.reason : 'network';
          failures++;
          cameraErrors().inc({ reason });
          // Backoff: the polling interval doubled per consecutive failure, capped.
          const backoff = Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** Math.min(failures, 16));
          log.warn('camera poll failed; retrying', {
            camera: replay ? options.testDataFolder : options.address,
            reason,
            error: errorMessage(err),
            consecutiveFailures: failures,
            retryInMs: Math.round(backoff),
          });
          next = performance.now() + backoff;
          continue;
        }
        if (failures > 0) log.info('camera recovered', { afterFailures: failures });
        failures = 0;
        cameraFrames().inc();
        sent++;
        yield frame;
      }
    },
    async close() {},
  };
}
