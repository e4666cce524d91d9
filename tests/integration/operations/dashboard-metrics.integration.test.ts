/**
 * The Grafana dashboard (docs/grafana/framesift.json) and the Prometheus alert rules (docs/prometheus/) only
 * name metrics that exist: a real `framesift serve` (camera source: a loopback camera whose first answer is
 * an error, then real photos) and a real `framesift run --mode both` in child processes, their /metrics
 * scraped while the session streams (then stopped with Ctrl-C); every framesift_* name the files use must
 * be listed there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CALTECH, REPO_ROOT } from '../../test-data.js';
import { tempDir } from '../stream/helpers.js';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const children: ChildProcess[] = [];
const servers: http.Server[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
  fields: Record<string, unknown>;
}

/** Starts the CLI and resolves with the fields of the first JSON log line whose message is `message`. */
function startCli(args: string[], message: string): Promise<Started> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.message === message) resolve({ child, exited, fields: entry });
      }
    });
    child.on('exit', (code) =>
      reject(new Error(`framesift ${args[0]} exited (${code}) before "${message}"`)),
    );
  });
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

/** The framesift_* metric names a text uses (histogram series reduced to the histogram's name). */
function referencedMetrics(text: string): string[] {
  const names = text.match(/\bframesift_[a-z][a-z0-9_]*/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))].sort();
}

/** Metric names a Prometheus scrape lists (by their # TYPE lines). */
function listedMetrics(scrapeText: string): Set<string> {
  return new Set([...scrapeText.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** A camera on loopback: the first GET fails with 500, then each GET returns the next real photo. */
async function startCamera(): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(CALTECH)).filter((f) => f.endsWith('.jpg')).sort();
  let requests = 0;
  const server = http.createServer((_req, res) => {
    const n = requests++;
    if (n === 0) {
      res.writeHead(500).end('warming up');
      return;
    }
    void readFile(path.join(CALTECH, files[n % files.length]!)).then((jpeg) =>
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('dashboard and alert rules', () => {
  it('reference only metrics a live server and run expose', async () => {
    const dashboardText = await readFile(path.join(REPO_ROOT, 'docs/grafana/framesift.json'), 'utf8');
    const rulesText = await readFile(path.join(REPO_ROOT, 'docs/prometheus/framesift-alerts.yml'), 'utf8');
    const dashboard = JSON.parse(dashboardText) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    for (const panel of dashboard.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    const referenced = referencedMetrics(dashboardText + rulesText);
    expect(referenced.length).toBeGreaterThan(10);

    const dir = await tempDir('framesift-dashboard-');
    const camera = await startCamera();
    const serve = await startCli(
      [
        'serve',
        '--source',
        'camera',
        '--camera-address',
        camera,
        '--images-per-second',
        '20',
        '--frames-port',
        '0',
        '--control-port',
        '0',
        '--results-dir',
        path.join(dir, 'server'),
      ],
      'stream server listening',
    );
    const controlPort = serve.fields.controlPort as number;
    const run = await startCli(
      [
        'run',
        '--frames-port',
        String(serve.fields.framesPort),
        '--control-port',
        String(controlPort),
        '--count',
        '400',
        '--fps',
        '0',
        '--mode',
        'both',
        '--method',
        'phash',
        '--metrics-port',
        '0',
        '--out',
        path.join(dir, 'out'),
      ],
      'metrics and API listening',
    );
    const runMetrics = run.fields.url as string;
    // Scrape while the session streams: once some frames went through the whole pipeline.
    let runScrape = '';
    for (;;) {
      runScrape = await scrape(runMetrics);
      const processed = /^framesift_frames_processed_total (\d+)/m.exec(runScrape);
      if (processed && Number(processed[1]) >= 5 && /framesift_dedupe_frames_total\{/.test(runScrape)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const serverScrape = await scrape(`http://127.0.0.1:${controlPort}/metrics`);
    const listed = new Set([...listedMetrics(runScrape), ...listedMetrics(serverScrape)]);
    const missing = referenced.filter((name) => !listed.has(name));
    expect(missing).toEqual([]);
    // The failed first camera poll is counted where the camera-errors alert looks for it.
    expect(serverScrape).toMatch(/^framesift_camera_errors_total\{reason="http"\} 1$/m);
    // Ctrl-C: the run stops the session, writes its results and exits 0.
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 180_000);
});
