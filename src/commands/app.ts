/**
 * `framesift app`: the operator's one command. Starts the stream server on the given source, the live page
 * on --metrics-port (127.0.0.1), and a dedupe session with no fixed frame count; prints the page's URL.
 * The page starts and stops sessions, tunes the threshold and the rate live, and saves the kept images
 * under an order number (docs/app.md). Runs until SIGINT/SIGTERM.
 */
import type { AppConfig } from '../common/config.js';
import { ConfigError, errorMessage } from '../common/errors.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { startHttpServer, type HttpServer } from '../common/http.js';
import { accessPolicy } from '../common/http-guard.js';
import { cameraHealth, type StreamServer } from '../stream/index.js';
import { LivePage, checkPageConfig, pageConfigOf, videoSaveOption } from './page/index.js';
import { attachSearchIndex, type RunIndex } from './run-index.js';
import { runPipeline } from './run.js';
import { startConfiguredStreamServer } from './serve.js';

const log = loggerFor('app');

export interface RunningApp {
  /** http://127.0.0.1:port/ — the page. */
  url: string;
  page: LivePage;
  server: StreamServer;
  /** Resolves when the current session (if any) has finished writing its results. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Options that have a default, so resolveConfig('app', …) always sets them. */
type Defaulted =
  | 'host'
  | 'framesPort'
  | 'controlPort'
  | 'metricsPort'
  | 'resultsDir'
  | 'sessionTimeoutMs'
  | 'maxPayloadBytes'
  | 'cameraTimeout'
  | 'imagesPerSecond'
  | 'method'
  | 'metric'
  | 'videoCodec'
  | 'modelsDir';

/**
 * Starts everything and the first session; the caller decides when to close (tests, the command).
 * `config` is what resolveConfig('app', …) returns (defaults filled in).
 */
export async function startApp(resolved: AppConfig): Promise<RunningApp> {
  const config = resolved as AppConfig & Required<Pick<AppConfig, Defaulted>>;
  const pageConfig = pageConfigOf(config);
  checkPageConfig(pageConfig);
  const fps = config.imagesPerSecond;
  if (fps < pageConfig.imagesPerSecondMin || fps > pageConfig.imagesPerSecondMax) {
    throw new ConfigError(
      `IMAGES_PER_SECOND=${fps}: expected a rate between IMAGES_PER_SECOND_MIN=${pageConfig.imagesPerSecondMin} and IMAGES_PER_SECOND_MAX=${pageConfig.imagesPerSecondMax}`,
    );
  }
  collectProcessMetrics();
  // The same server, options and checks as `serve` (token, origins, limits, ffmpeg, exposure warning).
  const server = await startConfiguredStreamServer(config);
  let http: HttpServer | undefined;
  let searchIndex: RunIndex | undefined;
  try {
    // The page's port: loopback only, the same access rule as a run's (same origin or --allowed-origins).
    http = await startHttpServer({
      host: '127.0.0.1',
      port: config.metricsPort,
      access: accessPolicy({ bindHost: '127.0.0.1', allowedOrigins: config.allowedOrigins }),
    });
    // With --index the index and its search API live as long as the app, across sessions.
    if (config.index) searchIndex = await attachSearchIndex(http, { ...config, index: config.index });
  } catch (err) {
    await http?.close();
    await server.close();
    throw err;
  }
  let session: Promise<void> | undefined;
  let abort: AbortController | undefined;
  const page = new LivePage(http, pageConfig, {
    method: config.method,
    metric: config.metric,
    ...(config.threshold !== undefined ? { threshold: config.threshold } : {}),
    fps,
    start: () => startSession(),
    camera: () => cameraHealth,
    video: await videoSaveOption(config.videoCodec),
  });
  // The client connects to the server over loopback even when the server is exposed on all addresses.
  const connectHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  function startSession(): void {
    if (session) return;
    abort = new AbortController();
    const { signal } = abort;
    page.sessionStarting();
    session = runPipeline(
      {
        ...config,
        host: connectHost,
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        mode: 'dedupe',
        count: undefined,
        // A new session keeps what the operator set on the page.
        fps: page.currentFps,
        threshold: page.deduper?.threshold ?? page.slider.initial,
      },
      { page, signal, ...(searchIndex ? { searchIndex } : {}) },
    )
      .then((result) => {
        if (result.summary) humanLogger.info(result.summary);
      })
      .catch((err: unknown) => {
        log.error('session failed', { error: errorMessage(err) });
      })
      .finally(() => {
        session = undefined;
      });
  }

  startSession();
  let closing: Promise<void> | undefined;
  return {
    url: `${http.url}/`,
    page,
    server,
    idle: async () => {
      while (session) await session;
    },
    close: () =>
      (closing ??= (async () => {
        abort?.abort();
        while (session) await session;
        await searchIndex?.close();
        page.close();
        await http.close();
        await server.close();
      })()),
  };
}

export async function appCommand(config: AppConfig): Promise<void> {
  const app = await startApp(config);
  humanLogger.info(`framesift app: open ${app.url} (Ctrl-C to quit)`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info('shutting down', { signal });
  await app.close();
}
