/**
 * `framesift serve`: runs the stream server until SIGINT/SIGTERM, then shuts down gracefully (sockets
 * closed with 1001, pending result writes finished). `app` starts its stream server the same way
 * (`startConfiguredStreamServer`), so every server option and check applies to both commands.
 */
import type { ServeConfig } from '../common/config.js';
import { useFfmpegBinaries } from '../common/ffmpeg.js';
import { isLoopbackHost } from '../common/http-guard.js';
import { loggerFor } from '../common/logger.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { startStreamServer, type StreamServer, type StreamServerOptions } from '../stream/index.js';

const log = loggerFor('serve');

/**
 * The warning `serve` gives when it listens beyond loopback without a token: anyone who can reach the
 * address can start, stop and read sessions. Undefined when there is nothing to warn about.
 */
export function exposureWarning(host: string, token: string | undefined): string | undefined {
  if (token || isLoopbackHost(host)) return undefined;
  return (
    `WARNING: serving on ${host} without --token: anyone who can reach this address can start sessions, ` +
    'read their frames and fill the results folder. Set --token (FRAMESIFT_TOKEN) or bind 127.0.0.1; see docs/security.md.'
  );
}

/** The stream server's options from a `serve` (or `app`, which takes every serve option) configuration. */
export function streamServerOptions(config: ServeConfig): StreamServerOptions {
  return {
    host: config.host,
    framesPort: config.framesPort,
    controlPort: config.controlPort,
    source: config.source,
    fashionMnistDir: config.fashionMnistDir,
    resultsDir: config.resultsDir,
    sessionTimeoutMs: config.sessionTimeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    allowedOrigins: config.allowedOrigins,
    token: config.token,
    maxPendingSessions: config.maxPendingSessions,
    maxPendingPerConnection: config.maxPendingPerConnection,
    maxSubmissions: config.maxSubmissions,
    maxSubmitBytes: config.maxSubmitBytes,
    camera: cameraSourceOptions(config),
    video: { ...videoSourceOptions(config), rtspListen: config.rtspListen },
  };
}

/** The camera source's options from a configuration that has them (`serve`, `app`, `bus publish`). */
export function cameraSourceOptions(
  config: Pick<
    ServeConfig,
    | 'cameraAddress'
    | 'cameraToken'
    | 'cameraTimeout'
    | 'imagesPerSecond'
    | 'testDataFolder'
    | 'cameraMaxBytes'
  >,
): NonNullable<StreamServerOptions['camera']> {
  return {
    address: config.cameraAddress,
    token: config.cameraToken,
    timeoutSeconds: config.cameraTimeout ?? 5,
    imagesPerSecond: config.imagesPerSecond ?? 5,
    testDataFolder: config.testDataFolder,
    maxBytes: config.cameraMaxBytes,
  };
}

/** The video sources' options (files and streams) from a configuration that has them. */
export function videoSourceOptions(
  config: Pick<ServeConfig, 'frameSize' | 'videoStallTimeout'>,
): NonNullable<StreamServerOptions['video']> {
  return {
    ...(config.frameSize ? { frameSize: config.frameSize } : {}),
    stallTimeoutSeconds: config.videoStallTimeout ?? 10,
  };
}

/**
 * What `serve` and `app` do to start their stream server: warn loudly when it is exposed without a token,
 * use the configured ffmpeg/ffprobe, and start it with `streamServerOptions(config)`.
 */
export function startConfiguredStreamServer(config: ServeConfig): Promise<StreamServer> {
  const warning = exposureWarning(config.host ?? '127.0.0.1', config.token);
  if (warning) {
    // Loud: on the terminal as a plain line, and in the log.
    process.stderr.write(`framesift: ${warning}\n`);
    log.warn(warning, { host: config.host });
  }
  useFfmpegBinaries({ ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath });
  return startStreamServer(streamServerOptions(config));
}

export async function serveCommand(config: ServeConfig): Promise<void> {
  collectProcessMetrics();
  const server = await startConfiguredStreamServer(config);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info('shutting down', { signal });
  await server.close();
}
