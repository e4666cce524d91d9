/**
 * The live page of a run's HTTP port (docs/app.md): the static page (web/app/), its live state pushed as
 * Server-Sent Events, and the controls it calls (threshold, rate, resolution, start/stop, save, the saved
 * folders). `run` and `app` both mount it; the pipeline reports into it through a few cheap calls.
 *
 * A slow or hidden tab never slows the pipeline: the pipeline only stores the latest values; a timer
 * (LOOP_UPDATE_TIME) builds one snapshot and writes it to each tab whose socket has drained, and skips
 * (drops) the update for a tab whose socket still holds more than a small buffer. Frames are never dropped
 * for the page's sake.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ConfigError, UserError, errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { metric, metricsRegistry, prom } from '../../common/metrics.js';
import { PROJECT_ROOT } from '../../common/paths.js';
import type { SessionMessage } from '../../common/wire/control.js';
import {
  THRESHOLD_MEANING,
  renderKeptImage,
  thresholdSlider,
  type KeptImage,
  type Method,
  type Metric,
  type DedupeSaveResult as SaveResult,
  type StreamDeduper,
  type ThresholdSlider,
} from '../../dedupe/index.js';
import { sendJson, type HttpServer } from '../../common/http.js';
import { handleDedupeApi, readBody as readRequestBody } from '../run/api-routes.js';
import type { CameraHealth } from '../../stream/index.js';
import type { VideoSaveOption } from './video-option.js';

const log = loggerFor('page');

/** The page's options (src/common/config.ts, the PAGE group). */
export interface PageConfig {
  title: string;
  loopUpdateTime: number;
  imageDisplayWidth: number;
  optionsThMin: number;
  optionsThMax: number;
  optionsThInc: number;
  optionsThInit: number;
  imagesPerSecondMin: number;
  imagesPerSecondMax: number;
  optionsImageResolution: number[];
  optionsImageResolutionInitIdx: number;
  galleryNColumns: number;
  galleryOverallHeight?: number;
  inputTextTitle: string;
  inputTextPlaceholder: string;
  optionsSaveAsChoiceInitIdx: number;
}

/** Cross-option checks the per-option schemas cannot make; a ConfigError (exit 2) names the variables. */
export function checkPageConfig(config: PageConfig): void {
  if (config.optionsImageResolutionInitIdx >= config.optionsImageResolution.length) {
    throw new ConfigError(
      `OPTIONS_IMAGE_RESOLUTION_INIT_IDX=${config.optionsImageResolutionInitIdx}: expected an index below ${config.optionsImageResolution.length} (the number of OPTIONS_IMAGE_RESOLUTION choices)`,
    );
  }
  if (config.optionsThMin > config.optionsThMax) {
    throw new ConfigError(
      `OPTIONS_TH_MIN=${config.optionsThMin}: expected at most OPTIONS_TH_MAX=${config.optionsThMax}`,
    );
  }
  if (config.imagesPerSecondMin > config.imagesPerSecondMax) {
    throw new ConfigError(
      `IMAGES_PER_SECOND_MIN=${config.imagesPerSecondMin}: expected at most IMAGES_PER_SECOND_MAX=${config.imagesPerSecondMax}`,
    );
  }
}

/** Where the page's files are: web/app/ at the package root (listed in package.json `files`). */
export const PAGE_DIR = path.join(PROJECT_ROOT, 'web', 'app');
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** Content types of the files a save writes (images, videos of each VIDEO_CODEC container, the manifest). */
const SAVED_FILE_TYPES: Record<string, string> = {
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.avi': 'video/x-msvideo',
};

/** A tab's socket holding more than this is slow: its view updates are skipped until it drains. */
export const MAX_CLIENT_BUFFER_BYTES = 256 * 1024;
/** Newest kept images listed in a gallery update (the rest stay saved and countable). */
export const GALLERY_MAX_ITEMS = 240;
const KEEPALIVE_MS = 15_000;

const viewUpdates = () =>
  metric(
    'framesift_page_view_updates_total',
    () =>
      new prom.Counter({
        name: 'framesift_page_view_updates_total',
        help: 'Live-state pushes to page tabs, by outcome (sent, or dropped because the tab was slow).',
        labelNames: ['outcome'],
        registers: [metricsRegistry],
      }),
  );
const pageErrors = () =>
  metric(
    'framesift_page_errors_total',
    () =>
      new prom.Counter({
        name: 'framesift_page_errors_total',
        help: 'Page requests answered with an error, by reason.',
        labelNames: ['reason'],
        registers: [metricsRegistry],
      }),
  );

export interface LiveCounts {
  sent: number | null;
  received: number;
  processed: number;
  dropped: number;
  invalid: number;
  missing: number;
}

/** What the pipeline tells the page when a session starts. */
export interface LiveSessionInfo {
  session: SessionMessage;
  mode: 'classify' | 'dedupe' | 'both';
  deduper?: StreamDeduper;
  /** The session's counts now (cheap: read on each push). */
  counts: () => LiveCounts;
  /** Asks the server for a new frame rate; resolves with the acknowledged rate. */
  setRate: (fps: number) => Promise<number>;
  /** Stops the session (results are still written). */
  stop: () => void;
  /** Class names of the classifier (classify mode). */
  classNames?: readonly string[];
}

export type RunState = 'idle' | 'starting' | 'streaming' | 'stopping' | 'ended' | 'stopped' | 'failed';

export interface LivePageOptions {
  method: Method;
  metric: Metric;
  /** The threshold of the first session (`--threshold`, else the method's default). */
  threshold?: number;
  /** Starts a new session (app); absent for `run`, whose one session the command starts. */
  start?: () => void;
  /** The camera's health when the source is a camera polled by this process. */
  camera?: () => CameraHealth;
  /** Initial frame rate for the slider (the session's fps). */
  fps: number;
  /** Whether "Save as video" is offered (VIDEO_CODEC and this machine's ffmpeg), and why not. */
  video?: VideoSaveOption;
}

interface Client {
  res: ServerResponse;
  state: string;
  gallery: number;
  frame: number;
  lastWrite: number;
}

interface Sample {
  t: number;
  processed: number;
  received: number;
}

function numberParam(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

export class LivePage {
  readonly slider: ThresholdSlider;
  private readonly clients = new Set<Client>();
  private readonly timer: NodeJS.Timeout;
  private info: LiveSessionInfo | undefined;
  private deduperRef: StreamDeduper | undefined;
  private runState: RunState = 'idle';
  private runError: string | undefined;
  private accuracy: number | null = null;
  private fps: number;
  private resolution: number;
  /** Saves of earlier sessions' dedupers (app); the current deduper lists its own. */
  private readonly pastSaves: SaveResult[] = [];
  private sessionsRun = 0;
  // latest frame: captured by the pipeline at most once per update interval, encoded by the timer
  private captured:
    | { seq: number; image: KeptImage; prediction?: { label: string; confidence: number } }
    | undefined;
  private lastCapture = 0;
  private frameVersion = 0;
  private frameEvent = '';
  private latencySum = 0;
  private latencyCount = 0;
  private latencyMs: number | null = null;
  private samples: Sample[] = [];
  private ticking = false;
  private galleryVersion = -1;
  private galleryEvent = '';
  private droppedUpdates = 0;

  constructor(
    readonly http: HttpServer,
    readonly config: PageConfig,
    private readonly options: LivePageOptions,
  ) {
    checkPageConfig(config);
    this.slider = thresholdSlider(
      options.method,
      options.metric,
      {
        min: config.optionsThMin,
        max: config.optionsThMax,
        inc: config.optionsThInc,
        init: config.optionsThInit,
      },
      options.threshold,
    );
    this.fps = options.fps;
    this.resolution = config.optionsImageResolution[config.optionsImageResolutionInitIdx]!;
    this.mount();
    this.timer = setInterval(() => void this.tick(), Math.round(config.loopUpdateTime * 1000));
    this.timer.unref();
  }

  /** The deduper of the current (or last) session: saves and the gallery outlive the session. */
  get deduper(): StreamDeduper | undefined {
    return this.deduperRef;
  }

  get state(): RunState {
    return this.runState;
  }

  /** The frame rate the page last set (or the first session's). */
  get currentFps(): number {
    return this.fps;
  }

  // ---- called by the pipeline ----

  sessionStarting(): void {
    this.runState = 'starting';
    this.runError = undefined;
  }

  sessionStarted(info: LiveSessionInfo): void {
    this.info = info;
    this.sessionsRun++;
    this.accuracy = null;
    this.samples = [];
    this.latencyMs = null;
    this.captured = undefined;
    this.fps = info.session.fps;
    if (info.deduper) {
      if (this.deduperRef) this.pastSaves.push(...this.deduperRef.status().saves);
      this.deduperRef = info.deduper;
      this.galleryVersion = -1;
    }
    this.runState = 'streaming';
  }

  /**
   * One processed frame. Cheap: the pixels are copied only when the page's next update is due (the ring
   * reuses the slot), and encoded later by the timer.
   */
  frame({
    seq,
    image,
    sentAt,
    now,
    prediction,
  }: {
    seq: number;
    image: KeptImage;
    sentAt: number;
    now: number;
    prediction?: { label: number; confidence: number };
  }): void {
    this.latencySum += now - sentAt;
    this.latencyCount++;
    if (now - this.lastCapture < this.config.loopUpdateTime * 1000) return;
    this.lastCapture = now;
    const names = this.info?.classNames;
    this.captured = {
      seq,
      image: { ...image, data: image.data.slice() },
      ...(prediction
        ? {
            prediction: {
              label: names?.[prediction.label] ?? `class ${prediction.label}`,
              confidence: prediction.confidence,
            },
          }
        : {}),
    };
  }

  sessionEnded(outcome: { stopped: boolean; accuracy?: number | null; error?: string }): void {
    this.runState = outcome.error ? 'failed' : outcome.stopped ? 'stopped' : 'ended';
    this.runError = outcome.error;
    if (outcome.accuracy !== undefined) this.accuracy = outcome.accuracy;
    void this.tick();
  }

  /** Ends every tab's stream with the final state (written even to a slow tab: it is the last word). */
  close(): void {
    clearInterval(this.timer);
    const state = JSON.stringify(this.snapshot());
    for (const client of this.clients) {
      if (client.state !== state) client.res.write(`event: state\ndata: ${state}\n\n`);
      client.res.end();
    }
    this.clients.clear();
  }

  // ---- state ----

  private pageInfo() {
    const c = this.config;
    return {
      title: c.title,
      inputTextTitle: c.inputTextTitle,
      inputTextPlaceholder: c.inputTextPlaceholder,
      galleryNColumns: c.galleryNColumns,
      galleryOverallHeight: c.galleryOverallHeight ?? null,
      resolutions: c.optionsImageResolution,
      resolutionInitIdx: c.optionsImageResolutionInitIdx,
      saveAsChoices: ['images', 'video'],
      saveAsInitIdx: c.optionsSaveAsChoiceInitIdx,
      imagesPerSecond: { min: c.imagesPerSecondMin, max: c.imagesPerSecondMax },
      loopUpdateTime: c.loopUpdateTime,
      imageDisplayWidth: c.imageDisplayWidth,
      canStart: this.options.start !== undefined,
      video: this.options.video ?? {
        available: false,
        codec: null,
        note: 'this run does not dedupe: there is nothing to save',
      },
    };
  }

  /** The live state (small: counts, rates, controls; frames and the gallery go as their own events). */
  snapshot() {
    const now = Date.now();
    const counts = this.info?.counts();
    if (counts) {
      this.samples.push({ t: now, processed: counts.processed, received: counts.received });
      while (this.samples.length > 2 && now - this.samples[0]!.t > 2000) this.samples.shift();
    }
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const span = first && last ? (last.t - first.t) / 1000 : 0;
    if (this.latencyCount > 0) {
      this.latencyMs = this.latencySum / this.latencyCount;
      this.latencySum = 0;
      this.latencyCount = 0;
    }
    const status = this.deduperRef?.status();
    const session = this.info?.session;
    return {
      run: {
        state: this.runState,
        error: this.runError ?? null,
        sessionId: session?.sessionId ?? null,
        source: session?.source ?? null,
        mode: this.info?.mode ?? null,
        sessions: this.sessionsRun,
        canStart:
          this.options.start !== undefined && !['starting', 'streaming', 'stopping'].includes(this.runState),
        canStop: this.runState === 'streaming',
      },
      counts: {
        sent: counts?.sent ?? null,
        received: counts?.received ?? 0,
        processed: counts?.processed ?? 0,
        kept: status?.uniques ?? 0,
        duplicates: status?.duplicates ?? 0,
        dropped: counts?.dropped ?? 0,
        invalid: counts?.invalid ?? 0,
        missing: counts?.missing ?? 0,
      },
      throughput: {
        processedPerSecond: span > 0.5 ? (last!.processed - first!.processed) / span : 0,
        receivedPerSecond: span > 0.5 ? (last!.received - first!.received) / span : 0,
        latencyMs: this.latencyMs,
      },
      rate: { fps: this.fps, ...this.pageInfo().imagesPerSecond },
      threshold: this.deduperRef
        ? {
            value: this.deduperRef.threshold,
            ...this.slider,
            method: status!.method,
            metric: status!.metric,
            meaning: THRESHOLD_MEANING[status!.method],
            changes: status!.thresholdChanges.length,
          }
        : null,
      resolution: this.resolution,
      camera:
        session?.source === 'camera' && this.options.camera
          ? (({ state, errors, consecutiveFailures, lastError }) => ({
              state,
              errors,
              consecutiveFailures,
              lastError: lastError ?? null,
            }))(this.options.camera())
          : null,
      classify: this.info && this.info.mode !== 'dedupe' ? { accuracy: this.accuracy } : null,
      saves: this.saves().map((s) => ({ ...s, url: `/saved/${encodeURIComponent(s.name)}/` })),
      droppedViewUpdates: this.droppedUpdates,
    };
  }

  private saves(): SaveResult[] {
    return [...this.pastSaves, ...(this.deduperRef?.status().saves ?? [])];
  }

  private gallery(): string {
    const uniques = this.deduperRef?.uniques() ?? [];
    uniques.sort((a, b) => b.keptAt - a.keptAt || b.seq - a.seq);
    return JSON.stringify({
      total: uniques.length,
      items: uniques.slice(0, GALLERY_MAX_ITEMS).map((u) => ({
        streamId: u.streamId,
        seq: u.seq,
        keptAt: u.keptAt,
        nearest: u.nearest ?? null,
        width: u.width,
        height: u.height,
        ...(u.file !== undefined ? { file: u.file } : {}),
      })),
    });
  }

  private async encodeFrame(): Promise<void> {
    const captured = this.captured;
    if (!captured) return;
    this.captured = undefined;
    try {
      const jpeg = await renderKeptImage(captured.image, this.config.imageDisplayWidth, 75);
      this.frameVersion++;
      this.frameEvent = JSON.stringify({
        seq: captured.seq,
        version: this.frameVersion,
        src: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
        prediction: captured.prediction ?? null,
      });
    } catch (err) {
      pageErrors().inc({ reason: 'frame-encode' });
      log.warn('live frame could not be encoded', { seq: captured.seq, error: errorMessage(err) });
    }
  }

  private async tick(): Promise<void> {
    if (this.clients.size === 0 || this.ticking) return;
    this.ticking = true;
    try {
      await this.encodeFrame();
      const state = JSON.stringify(this.snapshot());
      const kept = this.deduperRef?.status().uniques ?? 0;
      const version = this.deduperRef ? kept * 1000 + this.sessionsRun : 0;
      if (version !== this.galleryVersion || this.galleryEvent === '') {
        this.galleryVersion = version;
        this.galleryEvent = this.gallery();
      }
      for (const client of this.clients) this.push(client, state);
    } catch (err) {
      log.warn('live update failed', { error: errorMessage(err) });
    } finally {
      this.ticking = false;
    }
  }

  private push(client: Client, state: string): void {
    const { res } = client;
    if (res.writableLength > MAX_CLIENT_BUFFER_BYTES) {
      this.droppedUpdates++;
      viewUpdates().inc({ outcome: 'dropped' });
      return;
    }
    let out = '';
    if (client.state !== state) {
      out += `event: state\ndata: ${state}\n\n`;
      client.state = state;
    }
    if (client.gallery !== this.galleryVersion) {
      out += `event: gallery\ndata: ${this.galleryEvent}\n\n`;
      client.gallery = this.galleryVersion;
    }
    if (client.frame !== this.frameVersion && this.frameEvent) {
      out += `event: frame\ndata: ${this.frameEvent}\n\n`;
      client.frame = this.frameVersion;
    }
    const now = Date.now();
    if (out === '' && now - client.lastWrite > KEEPALIVE_MS) out = ': keepalive\n\n';
    if (out === '') return;
    client.lastWrite = now;
    res.write(out);
    viewUpdates().inc({ outcome: 'sent' });
  }

  // ---- routes ----

  private mount(): void {
    // Who may call these routes (Host, Origin, token, JSON bodies) is decided before routing, by the
    // port's one guard (src/common/http-guard.ts): the page adds no rule of its own.
    const http = this.http;
    for (const [route, file] of Object.entries(STATIC_FILES)) {
      http.route('GET', route, async (_req, res) => {
        const body = await readFile(path.join(PAGE_DIR, file.file));
        res.writeHead(200, {
          'content-type': file.type,
          'content-length': body.length,
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
        });
        res.end(body);
      });
    }
    http.route('GET', '/api/page', (_req, res) => sendJson(res, 200, this.pageInfo()));
    http.route('GET', '/api/state', (_req, res) => sendJson(res, 200, this.snapshot()));
    http.route('GET', '/api/events', (req, res) => this.subscribe(req, res));
    http.route('GET', '/api/image', (_req, res, url) => this.image(res, url));
    http.route('GET', '/api/unique', (_req, res, url) => {
      const detail = this.deduperRef?.unique(
        url.searchParams.get('stream') ?? '',
        numberParam(url, 'seq') ?? -1,
      );
      if (!detail) return this.fail(res, 404, 'not-found', 'no such kept image (expected ?stream=…&seq=…)');
      sendJson(res, 200, detail);
    });
    this.mutation('/api/threshold', async (body) => {
      const deduper = this.deduperRef;
      if (!deduper) throw new HttpError(409, 'no-dedupe', 'threshold: this run does not dedupe');
      const t = (body as { threshold?: unknown }).threshold;
      if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
        throw new HttpError(400, 'bad-body', 'threshold: expected {"threshold": <number ≥ 0>}');
      }
      deduper.setThreshold(t);
      return { threshold: deduper.threshold };
    });
    this.mutation('/api/rate', async (body) => {
      const fps = (body as { fps?: unknown }).fps;
      const { imagesPerSecondMin: min, imagesPerSecondMax: max } = this.config;
      if (typeof fps !== 'number' || !(fps >= min && fps <= max)) {
        throw new HttpError(400, 'bad-body', `rate: expected {"fps": <number ${min}-${max}>}`);
      }
      if (!this.info || this.runState !== 'streaming') {
        throw new HttpError(409, 'not-streaming', 'rate: no session is streaming');
      }
      this.fps = await this.info.setRate(fps);
      return { fps: this.fps };
    });
    this.mutation('/api/settings', async (body) => {
      const resolution = (body as { resolution?: unknown }).resolution;
      if (!this.config.optionsImageResolution.includes(resolution as number)) {
        throw new HttpError(
          400,
          'bad-body',
          `resolution: expected one of ${this.config.optionsImageResolution.join(', ')}`,
        );
      }
      this.resolution = resolution as number;
      return { resolution: this.resolution };
    });
    this.mutation('/api/stop', async () => {
      if (!this.info || this.runState !== 'streaming') {
        throw new HttpError(409, 'not-streaming', 'stop: no session is streaming');
      }
      this.runState = 'stopping';
      this.info.stop();
      return { state: this.runState };
    });
    this.mutation('/api/start', async () => {
      if (!this.options.start)
        throw new HttpError(409, 'no-start', 'start: this run streams one session only');
      if (['starting', 'streaming', 'stopping'].includes(this.runState)) {
        throw new HttpError(409, 'busy', `start: a session is already ${this.runState}`);
      }
      this.sessionStarting();
      this.options.start();
      return { state: this.runState };
    });
    // The dedupe stage's routes answer the rest of /api/ (the save among them).
    http.prefix('/api/', (req, res) => {
      handleDedupeApi(req, res, () => this.deduperRef);
    });
    http.prefix('/saved/', (_req, res, url) => this.saved(res, url));
  }

  /** A guarded POST route with a JSON body; `handle` returns the JSON answer or throws an HttpError. */
  private mutation(route: string, handle: (body: unknown) => Promise<unknown>): void {
    this.http.route('POST', route, async (req, res) => {
      let body: unknown;
      try {
        body = JSON.parse(await readRequestBody(req));
      } catch (err) {
        return this.fail(
          res,
          err instanceof UserError ? 413 : 400,
          'bad-body',
          `${route}: expected a JSON object`,
        );
      }
      if (typeof body !== 'object' || body === null) {
        return this.fail(res, 400, 'bad-body', `${route}: expected a JSON object`);
      }
      try {
        sendJson(res, 200, await handle(body));
        void this.tick();
      } catch (err) {
        if (err instanceof HttpError) return this.fail(res, err.status, err.reason, err.message);
        return this.fail(res, 502, 'failed', `${route}: ${errorMessage(err)}`);
      }
    });
  }

  private fail(res: ServerResponse, status: number, reason: string, message: string): void {
    pageErrors().inc({ reason });
    log.warn('page request failed', { reason, message });
    sendJson(res, status, { error: message });
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 1000\nevent: page\ndata: ${JSON.stringify(this.pageInfo())}\n\n`);
    const client: Client = { res, state: '', gallery: -2, frame: -1, lastWrite: Date.now() };
    this.clients.add(client);
    req.on('close', () => this.clients.delete(client));
    res.on('error', () => this.clients.delete(client));
    // A new tab (or a reload) gets the whole current state at once.
    if (this.galleryEvent === '') this.galleryEvent = this.gallery();
    this.push(client, JSON.stringify(this.snapshot()));
  }

  private async image(res: ServerResponse, url: URL): Promise<void> {
    const stream = url.searchParams.get('stream') ?? '';
    const seq = numberParam(url, 'seq');
    const image = seq === undefined ? undefined : this.deduperRef?.imageOf(stream, seq);
    if (!image)
      return this.fail(res, 404, 'not-found', 'no such image (expected ?stream=…&seq=… of a kept image)');
    const width = Math.min(4096, Math.max(16, Math.round(numberParam(url, 'w') ?? this.resolution)));
    const jpeg = await renderKeptImage(image, width, 85);
    res.writeHead(200, {
      'content-type': 'image/jpeg',
      'content-length': jpeg.length,
      'cache-control': 'private, max-age=3600',
    });
    res.end(jpeg);
  }

  /** Read-only view of the folders this run saved: `/saved/<name>/` lists, `/saved/<name>/<file>` serves. */
  private async saved(res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname
      .slice('/saved/'.length)
      .split('/')
      .map((p) => decodeURIComponent(p));
    const save = this.saves().find((s) => s.name === parts[0]);
    if (!save) return this.fail(res, 404, 'not-found', 'no such saved folder on this run');
    const files = (await readdir(save.folder)).sort();
    const file = parts[1] ?? '';
    if (file === '') {
      const rows = await Promise.all(
        files.map(async (f) => {
          const size = (await stat(path.join(save.folder, f))).size;
          const href = encodeURIComponent(f);
          return `<li><a href="${href}">${escapeHtml(f)}</a> <small>${size.toLocaleString('en')} bytes</small></li>`;
        }),
      );
      const what =
        save.saveAs === 'video'
          ? `a video of ${save.uniques + save.duplicates} frames (${save.uniques} kept), each listed in manifest.json`
          : `${save.uniques} images, ${save.duplicates} duplicates recorded in manifest.json`;
      const html = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(save.name)}</title><style>body{font:15px system-ui,sans-serif;margin:2rem}small{color:#666}</style><h1>${escapeHtml(save.name)}</h1><p>${escapeHtml(save.folder)}: ${what}</p><ul>${rows.join('')}</ul>`;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
      });
      return void res.end(html);
    }
    // Only names the folder really holds: no path from the URL ever reaches the file system.
    if (parts.length > 2 || !files.includes(file))
      return this.fail(res, 404, 'not-found', 'no such file in the saved folder');
    const body = await readFile(path.join(save.folder, file));
    const type = SAVED_FILE_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
