/**
 * `framesift serve`: runs the stream server until SIGINT/SIGTERM, then shuts down gracefully (sockets
 * closed with 1001, pending result writes finished).
 */
import type { ServeConfig } from '../common/config.js';
import { useFfmpegBinaries } from '../common/ffmpeg.js';
import { loggerFor } from '../common/logger.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { startStreamServer } from '../stream/index.js';

const log = loggerFor('serve');

export async function serveCommand(config: ServeConfig): Promise<void> {
  collectProcessMetrics();
  useFfmpegBinaries({ ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath });
  const server = await startStreamServer({
    host: config.host,
    framesPort: config.framesPort,
    controlPort: config.controlPort,
    source: config.source,
    fashionMnistDir: config.fashionMnistDir,
    resultsDir: config.resultsDir,
    sessionTimeoutMs: config.sessionTimeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    camera: {
      address: config.cameraAddress,
      token: config.cameraToken,
      timeoutSeconds: config.cameraTimeout ?? 5,
      imagesPerSecond: config.imagesPerSecond ?? 5,
      testDataFolder: config.testDataFolder,
    },
    video: {
      ...(config.frameSize ? { frameSize: config.frameSize } : {}),
      stallTimeoutSeconds: config.videoStallTimeout ?? 10,
      rtspListen: config.rtspListen,
    },
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info('shutting down', { signal });
  await server.close();
}
