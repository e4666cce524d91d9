/**
 * What a run shows on its HTTP port while it streams: the live page (docs/app.md), the /api routes it
 * mounts, and with --index the similar-image search over the index the saved uniques go into. `run` opens
 * its own port (--metrics-port) and closes it after the session; `app` passes its page, kept across
 * sessions.
 */
import { startHttpServer, type HttpServer } from '../../common/http.js';
import { accessPolicy } from '../../common/http-guard.js';
import { FASHION_MNIST_CLASSES } from '../../common/fashion-mnist-classes.js';
import type { SessionLedger } from '../../common/session/index.js';
import type { SessionMessage } from '../../common/wire/control.js';
import { defaultThreshold, type StreamDeduper } from '../../dedupe/index.js';
import type { ControlClient } from '../../processing/index.js';
import { LivePage, pageConfigOf, videoSaveOption, type LiveCounts } from '../page/index.js';
import { attachSearchIndex, type RunIndex } from '../run-index.js';
import type { PipelineConfig } from './config.js';
import type { PipelineOptions } from './types.js';

export interface LiveSurface {
  http: HttpServer;
  page: LivePage;
  /** With --index: the saved uniques go into it. */
  searchIndex?: RunIndex;
  /** Closes the search index, and the page and port when the run opened them. */
  close(): Promise<void>;
}

/** Opens the run's HTTP port (or takes the app's), its live page and, with --index, the search API. */
export async function openLiveSurface(
  config: PipelineConfig,
  runConfig: Partial<Record<string, unknown>>,
  options: Pick<PipelineOptions, 'page' | 'onMetricsServer' | 'searchIndex'>,
): Promise<LiveSurface> {
  const own = options.page === undefined;
  const http =
    options.page?.http ??
    (await startHttpServer({
      host: '127.0.0.1',
      port: config.metricsPort,
      access: accessPolicy({ bindHost: '127.0.0.1', allowedOrigins: config.allowedOrigins }),
    }));
  const page =
    options.page ??
    new LivePage(http, pageConfigOf(runConfig), {
      method: config.method,
      metric: config.metric,
      threshold: config.threshold ?? defaultThreshold(config.method, config.metric),
      fps: config.fps,
      ...(config.mode !== 'classify' ? { video: await videoSaveOption(config.videoCodec ?? 'h264') } : {}),
    });
  const ownIndex = options.searchIndex === undefined;
  const searchIndex =
    options.searchIndex ??
    (config.index
      ? await attachSearchIndex(http, { ...config, index: config.index }).catch(async (err: unknown) => {
          if (own) await http.close();
          throw err;
        })
      : undefined);
  options.onMetricsServer?.(http);
  return {
    http,
    page,
    ...(searchIndex ? { searchIndex } : {}),
    async close() {
      if (ownIndex) await searchIndex?.close();
      if (own) {
        page.close();
        await http.close();
      }
    },
  };
}

/** Shows a started session on the page: its counts as they grow, the rate control and Stop. */
export function showSession(
  page: LivePage,
  live: {
    session: SessionMessage;
    mode: PipelineConfig['mode'];
    deduper?: StreamDeduper;
    ledger: SessionLedger;
    /** The server's final `sent`, once the session ended (undefined while streaming). */
    finalSent: () => number | null | undefined;
    control: ControlClient;
    stop: () => void;
  },
): void {
  const { session, ledger, control } = live;
  page.sessionStarted({
    session,
    mode: live.mode,
    deduper: live.deduper,
    classNames: session.width === 28 && session.height === 28 ? FASHION_MNIST_CLASSES : undefined,
    counts: () => liveCounts(ledger, live.finalSent()),
    setRate: (fps) => control.rate(session.sessionId, fps).then((ack) => ack.fps),
    stop: live.stop,
  });
}

/** The page's counts: while streaming, "missing" means gaps below the highest seq seen, not frames to come. */
export function liveCounts(ledger: SessionLedger, finalSent: number | null | undefined): LiveCounts {
  const counts = ledger.counts(finalSent === undefined ? ledger.maxSeq + 1 : finalSent);
  if (finalSent === undefined) counts.sent = null;
  const total = (by: Record<string, number>) => Object.values(by).reduce((a, b) => a + b, 0);
  return { ...counts, dropped: total(counts.dropped), invalid: total(counts.invalid) };
}
