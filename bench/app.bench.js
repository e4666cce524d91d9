// What the live page costs the pipeline: the same dedupe session (the app's default method, cnn, at fps 0
// over JPEG frames cut from opencv-doc's vtest.avi, a fixed street camera at 768×576) is run with no tab,
// 1 tab, 4 tabs, 1 backgrounded tab (frozen: it reads nothing, as a hidden tab the browser suspended) and
// 1 slow tab (CPU throttled ×20) open on the page in Debian's chromium. The scenarios take turns in each
// round, so each ratio to "no tab" compares sessions run minutes apart on the same loaded machine.
//
// The page is served as `app` serves it: one HTTP server and LivePage kept across sessions, the stream
// server in its own process. Chromium runs on the same cores as the pipeline, so a live tab also costs
// the CPU it renders with; the frozen tab shows what backpressure alone does.
//
// Knobs (environment): BENCH_APP_FRAMES (240), BENCH_APP_ROUNDS (5), BENCH_APP_METHOD (cnn).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LivePage, pageConfigOf } from '../dist/commands/page/index.js';
import { runPipeline } from '../dist/commands/run.js';
import { startHttpServer } from '../dist/common/http.js';
import { metricsRegistry } from '../dist/common/metrics.js';
import { defaultThreshold } from '../dist/dedupe/index.js';
import { CHROMIUM, launchChromium } from './chromium.js';
import { startServerProcess } from './server-process.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const FRAMES = Number(process.env.BENCH_APP_FRAMES ?? 240);
const ROUNDS = Number(process.env.BENCH_APP_ROUNDS ?? 5);
const METHOD = process.env.BENCH_APP_METHOD ?? 'cnn';

/** Each scenario: how many tabs, and what is done to them once they show the page. */
const SCENARIOS = [
  { name: 'no tab', tabs: 0 },
  { name: '1 tab', tabs: 1 },
  { name: '4 tabs', tabs: 4 },
  { name: '1 backgrounded tab (frozen)', tabs: 1, freeze: true },
  { name: '1 slow tab (CPU ×20)', tabs: 1, cpuThrottle: 20 },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function viewUpdates() {
  const metric = metricsRegistry.getSingleMetric('framesift_page_view_updates_total');
  const values = metric ? (await metric.get()).values : [];
  const of = (outcome) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { sent: of('sent'), dropped: of('dropped') };
}

/** Opens the scenario's tabs and waits until each shows a live state; returns a closer. */
async function openTabs(browser, url, scenario) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (let i = 0; i < scenario.tabs; i++) {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction("document.getElementById('run-state').textContent !== 'connecting…'");
    const cdp = await context.newCDPSession(page);
    if (scenario.cpuThrottle)
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: scenario.cpuThrottle });
    if (scenario.freeze) {
      // What the browser does to a tab in the background: hidden, then frozen (no script, no reading).
      await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: false });
      await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
    }
  }
  return () => context.close();
}

export async function run() {
  if (!existsSync(VTEST)) throw new Error(`${VTEST} missing: apt-get install opencv-doc ffmpeg`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium`);
  const dir = path.join(os.tmpdir(), `framesift-bench-app-${process.pid}`);
  const framesDir = path.join(dir, 'frames');
  await mkdir(framesDir, { recursive: true });
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    VTEST,
    '-frames:v',
    String(FRAMES),
    '-q:v',
    '3',
    path.join(framesDir, '%05d.jpg'),
  ]);
  const frames = (await readdir(framesDir)).length;

  const server = await startServerProcess({ source: framesDir, resultsDir: path.join(dir, 'server') });
  const http = await startHttpServer({ host: '127.0.0.1', port: 0 });
  const page = new LivePage(http, pageConfigOf({}), {
    method: METHOD,
    metric: 'cosine',
    threshold: defaultThreshold(METHOD, 'cosine'),
    fps: 0,
  });
  const browser = await launchChromium();
  const session = () =>
    runPipeline(
      {
        host: '127.0.0.1',
        framesPort: server.framesPort,
        controlPort: server.controlPort,
        metricsPort: 0,
        modelsDir: process.env.MODELS_DIR ?? 'models',
        out: path.join(dir, 'out'),
        source: framesDir,
        fps: 0,
        mode: 'dedupe',
        method: METHOD,
      },
      { page, skipResults: true },
    );
  const results = new Map(SCENARIOS.map((s) => [s.name, []]));
  try {
    await session(); // warm-up: model load, caches, JIT
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no scenario always runs first or last.
      const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round) % SCENARIOS.length]);
      const base = {};
      for (const scenario of order) {
        const close = await openTabs(browser, `${http.url}/`, scenario);
        const before = await viewUpdates();
        const result = await session();
        const after = await viewUpdates();
        await close();
        const counts = result.ledger.counts(result.sent);
        if (counts.processed !== frames)
          throw new Error(`${scenario.name}: ${counts.processed}/${frames} processed`);
        const fps = counts.processed / (result.streamMs / 1000);
        base[scenario.name] = fps;
        results.get(scenario.name).push({
          round,
          fps,
          sent: after.sent - before.sent,
          dropped: after.dropped - before.dropped,
          seconds: result.streamMs / 1000,
          kept: result.deduper?.status().uniques ?? 0,
        });
      }
      for (const runs of results.values()) runs.at(-1).ratio = runs.at(-1).fps / base['no tab'];
    }
  } finally {
    await browser.close();
    page.close();
    await http.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const rows = SCENARIOS.map((s) => {
    const runs = results.get(s.name);
    const rates = runs.map((r) => r.fps);
    return {
      scenario: s.name,
      'frames/s (median)': median(rates),
      'min–max': `${Math.min(...rates).toFixed(1)}–${Math.max(...rates).toFixed(1)}`,
      'ratio to no tab (median)': median(runs.map((r) => r.ratio)),
      'view updates sent / session': median(runs.map((r) => r.sent)),
      'dropped (slow tab) / session': median(runs.map((r) => r.dropped)),
      'session s': median(runs.map((r) => r.seconds)),
      kept: median(runs.map((r) => r.kept)),
    };
  });
  return {
    name: 'app',
    rows,
    notes: [
      `${frames} JPEG frames of vtest.avi (768×576), dedupe --method ${METHOD} at fps 0, default workers; ${ROUNDS} rounds, scenarios rotated each round; medians`,
      `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}); chromium and the stream server run on the same cores`,
      "ratio: the scenario's frames/s over the no-tab session of the same round; view updates: state/frame/gallery pushes written to the tabs (dropped: skipped because a tab had 256 KiB unsent)",
    ],
  };
}
