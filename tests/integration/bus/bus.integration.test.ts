/**
 * The bus mode against real nats-server processes: publishers, worker processes (`framesift worker`,
 * spawned from dist/) and the collector, with every frame accounted for across processes — including
 * a worker killed mid-session (its frames redelivered to the standby that takes the partition over), a
 * NATS node killed in a 3-node cluster, and a full backlog whose refused frames are counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus } from '../../../src/bus/index.js';
import { readSubject } from '../../../src/bus/history.js';
import { decodeResult } from '../../../src/bus/messages.js';
import { resultsSubject } from '../../../src/bus/subjects.js';
import { busCollectCommand, busPublishCommand, type CollectedResults } from '../../../src/commands/bus.js';
import { resolveConfig } from '../../../src/common/config.js';
import { metricsRegistry } from '../../../src/common/metrics.js';
import { fashionMnistDir, loadFashionMnist } from '../../../src/stream/index.js';
import {
  freePort,
  natsServerAvailable,
  startNats,
  startNatsCluster,
  type NatsCluster,
  type NatsNode,
} from './nats-server.js';
import { KEYPOINT_SETTINGS } from '../../../src/dedupe/index.js';
import { writeHeavyCrops } from '../../helpers/heavy-crops.js';

const available = natsServerAvailable();
const CLI = path.resolve('dist/cli.js');

type BusFlags = Record<string, unknown>;
function busConfig(flags: BusFlags) {
  return resolveConfig('bus', flags, {}) as Parameters<typeof busPublishCommand>[0];
}

interface Worker {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: string[];
}

function startWorker(
  servers: string,
  partition: number,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Worker {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--bus',
      servers,
      '--partition',
      String(partition),
      '--workers',
      '1',
      '--lease-ttl-ms',
      '1000',
      '--bus-ack-wait-ms',
      '2000',
      // Several workers at once: each on any free port unless a test names one.
      '--metrics-port',
      '0',
      ...extra,
    ],
    { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr };
}

/** Resolves when the worker's log says it holds its partition. */
async function owning(worker: Worker): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (worker.stderr.join('').includes('partition lease acquired')) resolve();
    };
    worker.child.stderr!.on('data', check);
    worker.child.once('exit', (code) =>
      reject(new Error(`worker exited ${code}: ${worker.stderr.join('').slice(-1500)}`)),
    );
    check();
  });
}

/** The fields of the worker's first JSON log line whose message is `message`. */
async function logged(worker: Worker, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (const line of worker.stderr.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.message === message) return resolve(entry);
      }
    };
    worker.child.stderr!.on('data', check);
    worker.child.once('exit', (code) =>
      reject(new Error(`worker exited ${code} before "${message}": ${worker.stderr.join('').slice(-1500)}`)),
    );
    check();
  });
}

/** One series of a Prometheus text (`name{labels}` exactly as exposed); 0 when it is absent. */
function seriesValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
}

/** The partition each camera's results came from (every results message names it). */
async function partitionsOf(servers: string, cameras: string[]): Promise<Map<string, number>> {
  const bus = await connectBus(servers, 'test-observer');
  try {
    const found = new Map<string, number>();
    for (const camera of cameras) {
      const parts = new Set(
        (await readSubject(bus, resultsSubject(camera, 'frames'))).map((m) => {
          const message = decodeResult(m.data);
          return message.type === 'frames' ? message.partition : -1;
        }),
      );
      expect([...parts]).toHaveLength(1);
      found.set(camera, [...parts][0]!);
    }
    return found;
  } finally {
    await bus.close();
  }
}

/** Resolves when the worker's log says it waits for the partition's lease. */
async function standingBy(worker: Worker): Promise<void> {
  await new Promise<void>((resolve) => {
    const check = () => worker.stderr.join('').includes('standing by') && resolve();
    worker.child.stderr!.on('data', check);
    check();
  });
}

/** Frames partition 0's consumer has acknowledged so far (by stream sequence). */
async function ackFloor(servers: string): Promise<number> {
  const bus = await connectBus(servers, 'test-observer');
  try {
    return (await bus.jsm.consumers.info('FRAMESIFT_FRAMES', 'worker-0')).ack_floor.stream_seq;
  } finally {
    await bus.close();
  }
}

/** Waits until partition 0's consumer has acknowledged at least `n` frames. */
async function waitForAcks(servers: string, n: number): Promise<void> {
  const bus = await connectBus(servers, 'test-observer');
  try {
    for (;;) {
      const info = await bus.jsm.consumers.info('FRAMESIFT_FRAMES', 'worker-0');
      if (info.ack_floor.stream_seq >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await bus.close();
  }
}

class Collector {
  readonly sessions: CollectedResults[] = [];
  private readonly abort = new AbortController();
  private waiters: Array<() => void> = [];
  done: Promise<void>;
  constructor(servers: string, out: string, idleMs = 15_000, flags: BusFlags = {}) {
    this.done = busCollectCommand(busConfig({ bus: servers, out, busIdleMs: idleMs, ...flags }), {
      signal: this.abort.signal,
      onSession: (results) => {
        this.sessions.push(results);
        for (const wake of this.waiters.splice(0)) wake();
      },
    });
  }
  async waitFor(n: number): Promise<CollectedResults[]> {
    while (this.sessions.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.sessions;
  }
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

/** framesift_bus_frames_discarded_total of this process (the publishers run in it). */
async function discardedCount(camera: string, reason: string): Promise<number> {
  const text = await metricsRegistry.metrics();
  return seriesValue(text, `framesift_bus_frames_discarded_total{camera="${camera}",reason="${reason}"}`);
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(worker: Worker): Worker {
  cleanups.push(async () => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
  });
  return worker;
}

async function labelsOf(count: number): Promise<Uint8Array> {
  const set = await loadFashionMnist('test', fashionMnistDir(undefined));
  return set.labels!.subarray(0, count) as Uint8Array;
}

/**
 * The five photos of tests/helpers/heavy-crops.ts, decided: the photo kept, its strip and zoomed part
 * joined to it by the keypoint check (with the evidence), the two re-shots kept.
 */
function expectCropsJoined(results: CollectedResults): void {
  expectAllProcessedOnce(results, 5);
  const bySeq = [...results.session.outcomes].sort((a, b) => a.seq - b.seq);
  expect(bySeq.map((o) => o.kept)).toEqual([true, false, false, true, true]);
  for (const o of bySeq.slice(1, 3)) {
    expect(o.unique).toBe(0);
    expect(o.keypoints!.inliers).toBeGreaterThanOrEqual(KEYPOINT_SETTINGS.minInliers);
    expect(o.keypoints!.ncc).toBeGreaterThanOrEqual(KEYPOINT_SETTINGS.minNcc);
  }
}

function expectAllProcessedOnce(results: CollectedResults, sent: number): void {
  const doc = results.written.document;
  expect(results.session.complete).toBe(true);
  expect(results.session.end.sent).toBe(sent);
  expect(results.session.outcomes.map((o) => o.seq)).toEqual(Array.from({ length: sent }, (_, i) => i));
  expect(doc.counts.processed).toBe(sent);
  expect(doc.reconciliation.reconciled).toBe(true);
  expect(doc.verdict?.complete).toBe(true);
}

/** A session whose frames were partly refused at publish (bus-full): the rest decided, every refusal reconciled as dropped. */
function expectRefusalsReconciled(results: CollectedResults, sent: number, refused: number): void {
  const doc = results.written.document;
  expect(results.session.complete).toBe(true);
  expect(doc.counts.processed).toBe(sent - refused);
  expect(doc.counts.dropped).toEqual({ 'bus-full': refused });
  expect(doc.counts.missing).toBe(0);
  expect(doc.reconciliation.reconciled).toBe(true);
}

describe.skipIf(!available)('bus mode on a real NATS server', () => {
  let nats: NatsNode;
  let out: string;

  afterEach(async () => {
    await nats?.stop();
  });

  /** A worker owning partition 0 (started with `flags`) and a collector: the one session on the bus. */
  async function drainOneSession(flags: string[]): Promise<CollectedResults> {
    await owning(track(startWorker(nats.url, 0, flags)));
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const [results] = await collector.waitFor(1);
    return results!;
  }

  it('two cameras, one worker per partition: every frame decided once, scored against the labels', async () => {
    nats = await startNats({ partitions: 2 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    const workers = [0, 1].map((p) => track(startWorker(nats.url, p)));
    await Promise.all(workers.map(owning));
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const [a, b] = await Promise.all(
      ['cam1', 'cam2'].map((camera) =>
        busPublishCommand(
          busConfig({ bus: nats.url, camera, count: 300, fps: 0, source: 'fashion-mnist-test' }),
        ),
      ),
    );
    expect(a!.sent).toBe(300);
    expect(b!.sent).toBe(300);
    const sessions = await collector.waitFor(2);
    const labels = await labelsOf(300);
    for (const results of sessions) {
      expectAllProcessedOnce(results, 300);
      // The accuracy the collector scored equals the one computed here from the predictions.
      const { seq, label } = results.written.document.predictions;
      const correct = seq.filter((s, i) => label[i] === labels[s]).length;
      expect(results.accuracy).toBeCloseTo(correct / 300, 10);
      expect(results.accuracy!).toBeGreaterThan(0.85);
      const files = await readdir(results.written.folder);
      expect(files).toEqual(expect.arrayContaining(['results.json', 'summary.md', 'score.json']));
    }
  });

  it('two collectors split four cameras: each writes its own cameras once, counts exact', async () => {
    nats = await startNats({ partitions: 2 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    const workers = [0, 1].map((p) => track(startWorker(nats.url, p)));
    await Promise.all(workers.map(owning));
    // One collector by listed ids (the server filters), the other by a pattern (it filters itself).
    const docks = new Collector(nats.url, path.join(out, 'docks'), 15_000, { cameras: 'dock1,dock2' });
    const gates = new Collector(nats.url, path.join(out, 'gates'), 15_000, { cameras: 'gate-*' });
    cleanups.push(
      () => docks.stop(),
      () => gates.stop(),
    );
    const counts: Record<string, number> = { dock1: 120, dock2: 80, 'gate-1': 150, 'gate-2': 60 };
    const publish = (cameras: string[]) =>
      Promise.all(
        cameras.map((camera) =>
          busPublishCommand(
            busConfig({ bus: nats.url, camera, count: counts[camera], fps: 0, source: 'fashion-mnist-test' }),
          ),
        ),
      );
    // The docks first, then the gates: the pattern collector reads the docks' results before its own, and
    // the docks' collector is still running while the gates' results arrive, so a camera collected by the
    // wrong collector would show.
    const docksEnds = await publish(['dock1', 'dock2']);
    await docks.waitFor(2);
    const gatesEnds = await publish(['gate-1', 'gate-2']);
    await gates.waitFor(2);
    expect([...docksEnds, ...gatesEnds].map((e) => e.sent)).toEqual(Object.values(counts));
    await Promise.all([docks.stop(), gates.stop()]);
    for (const [collector, cameras] of [
      [docks, ['dock1', 'dock2']],
      [gates, ['gate-1', 'gate-2']],
    ] as const) {
      expect(collector.sessions.map((r) => r.session.camera).sort()).toEqual(cameras);
      for (const results of collector.sessions)
        expectAllProcessedOnce(results, counts[results.session.camera]!);
    }
    // Each camera's results folder exists once, under the collector that owns it.
    for (const [group, cameras] of [
      ['docks', ['dock1', 'dock2']],
      ['gates', ['gate-1', 'gate-2']],
    ] as const) {
      expect((await readdir(path.join(out, group))).sort()).toEqual(cameras);
      for (const camera of cameras) {
        const sessions = await readdir(path.join(out, group, camera));
        expect(sessions).toHaveLength(1);
        const doc = JSON.parse(
          await readFile(path.join(out, group, camera, sessions[0]!, 'results.json'), 'utf8'),
        ) as { counts: { processed: number; missing: number } };
        expect(doc.counts).toMatchObject({ processed: counts[camera], missing: 0 });
      }
    }
  });

  it('a worker killed mid-session: the standby takes the partition over and nothing is lost or counted twice', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // A slow owner (20 ms per batch) so that the kill lands mid-session; batches of 16.
    const owner = track(
      startWorker(nats.url, 0, ['--batch-size', '16'], { FRAMESIFT_TEST_WORKER_DELAY_MS: '20' }),
    );
    await owning(owner);
    const standby = track(startWorker(nats.url, 0, ['--batch-size', '16']));
    await standingBy(standby);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const end = await busPublishCommand(busConfig({ bus: nats.url, camera: 'dock', count: 1000, fps: 0 }));
    expect(end.sent).toBe(1000);
    // Kill the owner once it has acknowledged a few hundred frames: the rest is mid-flight or queued.
    await waitForAcks(nats.url, 200);
    owner.child.kill('SIGKILL');
    await owner.exited;
    await owning(standby);
    const [results] = await collector.waitFor(1);
    expectAllProcessedOnce(results!, 1000);
    expect(standby.stderr.join('')).toMatch(/partition lease acquired/);
  });

  it('a worker dying between publishing results and acknowledging: redelivered frames count once, and those found decided are not decided again', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // The owner kills itself once it has published the results of 200 frames, before acknowledging them.
    const owner = track(
      startWorker(nats.url, 0, ['--batch-size', '16'], { FRAMESIFT_TEST_BUS_CRASH_BEFORE_ACK: '200' }),
    );
    await owning(owner);
    const metricsPort = await freePort();
    const standby = track(
      startWorker(nats.url, 0, ['--batch-size', '16', '--metrics-port', String(metricsPort)]),
    );
    await standingBy(standby);
    expect(
      seriesValue(
        await scrape(`http://127.0.0.1:${metricsPort}/metrics`),
        'framesift_bus_partition_owned{partition="0"}',
      ),
    ).toBe(0);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const end = await busPublishCommand(busConfig({ bus: nats.url, camera: 'quay', count: 600, fps: 0 }));
    expect(end.sent).toBe(600);
    await owner.exited;
    expect(owner.child.signalCode).toBe('SIGKILL');
    await owning(standby);
    const [results] = await collector.waitFor(1);
    expectAllProcessedOnce(results!, 600);
    // The standby got the dead owner's last batch again, found it decided on the bus and only acknowledged
    // it: no second outcome reached the collector.
    const skipped = standby.stderr
      .join('')
      .split('\n')
      .filter((line) => line.includes('redelivered frames already decided'))
      .reduce((n, line) => n + (JSON.parse(line) as { frames: number }).frames, 0);
    expect(skipped).toBeGreaterThan(0);
    // The standby's metrics tell the same story: the frames it acknowledged are the ones it decided and
    // the redelivered ones it found decided.
    const text = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    const value = (name: string) => seriesValue(text, `${name}{partition="0"}`);
    expect(value('framesift_bus_frames_redelivered_total')).toBe(skipped);
    expect(value('framesift_bus_frames_acked_total')).toBe(
      value('framesift_bus_frames_consumed_total') + skipped,
    );
    expect(value('framesift_bus_partition_owned')).toBe(1);
    // A result the dead owner published just before the standby read the bus can still be decided once
    // more: the collector keeps the first outcome per seq (processed once, above) and counts the repeat.
    // Most of the redelivered batch must be caught by the check, though.
    expect(results!.session.duplicates).toBeLessThan(skipped);
  });

  it("dedupe across a takeover: the standby rebuilds the camera's unique store and keeps one frame per group, as one worker does", async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // 82 photos in 17 groups of near-duplicates.
    const folder = path.resolve('tests/fixtures/photos/caltech-resize');
    const dedupe = ['--mode', 'dedupe', '--batch-size', '4'];
    // Reference: one worker decides the whole session.
    const reference = track(startWorker(nats.url, 0, dedupe));
    await owning(reference);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'belt1', source: folder, mode: 'dedupe', fps: 0 }),
    );
    const [first] = await collector.waitFor(1);
    const keptByOne = first!.session.outcomes.filter((o) => o.kept).map((o) => o.seq);
    expect(keptByOne.length).toBeGreaterThan(1);
    expect(keptByOne.length).toBeLessThan(82);
    reference.child.kill('SIGTERM');
    await reference.exited;
    // The same frames again as another camera: the owner is killed after a few batches.
    const owner = track(startWorker(nats.url, 0, dedupe, { FRAMESIFT_TEST_WORKER_DELAY_MS: '100' }));
    await owning(owner);
    const standby = track(startWorker(nats.url, 0, dedupe));
    const acked = await ackFloor(nats.url);
    await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'belt2', source: folder, mode: 'dedupe', fps: 0 }),
    );
    await waitForAcks(nats.url, acked + 24);
    owner.child.kill('SIGKILL');
    await owner.exited;
    await owning(standby);
    const [, second] = await collector.waitFor(2);
    expectAllProcessedOnce(second!, 82);
    // Dedupe keeps the first frame it decides of each group, and after a takeover the new owner may decide
    // a few later frames before the dead owner's unacknowledged ones come back. So the guarantee is one kept
    // frame per group the single worker found (a standby that had not rebuilt the store would keep a
    // second frame of a group seen before the takeover), not the same representatives.
    const groupOf = new Map(first!.session.outcomes.map((o) => [o.seq, o.kept ? o.seq : o.unique]));
    const keptAfterTakeover = second!.session.outcomes.filter((o) => o.kept).map((o) => o.seq);
    expect(keptAfterTakeover).toHaveLength(keptByOne.length);
    expect(new Set(keptAfterTakeover.map((seq) => groupOf.get(seq))).size).toBe(keptByOne.length);
    expect(second!.savedFolder).toBeDefined();
    const saved = JSON.parse(await readFile(path.join(second!.savedFolder!, 'manifest.json'), 'utf8')) as {
      uniques?: unknown[];
    };
    expect(JSON.stringify(saved)).toContain('belt2');
  });

  it('dedupe on the bus: the keypoint check joins heavy crops to their photo, as run does', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // A photo, a thin strip and a zoomed part of it, then two re-shots of the same room (name order).
    const folder = await writeHeavyCrops(path.join(out, 'heavy-crops'));
    const worker = track(startWorker(nats.url, 0, ['--mode', 'dedupe', '--batch-size', '4']));
    await owning(worker);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'desk', source: folder, mode: 'dedupe', fps: 0 }),
    );
    const [collected] = await collector.waitFor(1);
    expectCropsJoined(collected!);
  });

  it("after a takeover the standby checks heavy crops against the restored uniques' images", async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    const folder = await writeHeavyCrops(path.join(out, 'heavy-crops'));
    const dedupe = ['--mode', 'dedupe', '--batch-size', '1'];
    // The owner decides the photo, then dies; the standby decides its strip and zoomed part.
    const owner = track(startWorker(nats.url, 0, dedupe, { FRAMESIFT_TEST_WORKER_DELAY_MS: '300' }));
    await owning(owner);
    const standby = track(startWorker(nats.url, 0, dedupe));
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const acked = await ackFloor(nats.url);
    await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'desk', source: folder, mode: 'dedupe', fps: 0 }),
    );
    await waitForAcks(nats.url, acked + 1);
    owner.child.kill('SIGKILL');
    await owner.exited;
    await owning(standby);
    const [collected] = await collector.waitFor(1);
    expectCropsJoined(collected!);
  });

  it('each worker serves /metrics on its own port; its counts match the frames it decided', async () => {
    nats = await startNats({ partitions: 2 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // One worker on a port chosen here, the other on any free port (0), which it logs.
    const port = await freePort();
    const workers = [
      track(startWorker(nats.url, 0, ['--metrics-port', String(port)])),
      track(startWorker(nats.url, 1, ['--metrics-port', '0'])),
    ];
    await Promise.all(workers.map(owning));
    const urls = await Promise.all(
      workers.map(async (w) => String((await logged(w, 'worker started')).metrics)),
    );
    expect(urls[0]).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(urls[1]).not.toBe(urls[0]);
    // A third worker given a port already in use: one line naming it, and it exits.
    const clash = track(startWorker(nats.url, 0, ['--metrics-port', String(port)]));
    expect(await clash.exited).toBe(1);
    expect(clash.stderr.join('')).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    for (const [p, url] of urls.entries()) {
      const before = await scrape(url);
      expect(seriesValue(before, `framesift_bus_partition_owned{partition="${p}"}`)).toBe(1);
      expect(seriesValue(before, `framesift_bus_frames_consumed_total{partition="${p}"}`)).toBe(0);
    }
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const counts: Record<string, number> = { north: 120, south: 80, east: 150, west: 60 };
    await Promise.all(
      Object.entries(counts).map(([camera, count]) =>
        busPublishCommand(busConfig({ bus: nats.url, camera, count, fps: 0, source: 'fashion-mnist-test' })),
      ),
    );
    const sessions = await collector.waitFor(4);
    for (const results of sessions) expectAllProcessedOnce(results, counts[results.session.camera]!);
    const partitionOf = await partitionsOf(nats.url, Object.keys(counts));
    let total = 0;
    for (const [p, url] of urls.entries()) {
      const decided = Object.entries(counts)
        .filter(([camera]) => partitionOf.get(camera) === p)
        .reduce((n, [, count]) => n + count, 0);
      const text = await scrape(url);
      const value = (name: string) => seriesValue(text, `${name}{partition="${p}"}`);
      expect({
        consumed: value('framesift_bus_frames_consumed_total'),
        acked: value('framesift_bus_frames_acked_total'),
        published: value('framesift_bus_results_published_total'),
        redelivered: value('framesift_bus_frames_redelivered_total'),
        owned: value('framesift_bus_partition_owned'),
        leasesLost: value('framesift_bus_leases_lost_total'),
        // Each batch the worker ran: its frames and its ONNX Runtime time.
        batchedFrames: seriesValue(text, 'framesift_batch_size_sum'),
      }).toEqual({
        consumed: decided,
        acked: decided,
        published: decided,
        redelivered: 0,
        owned: 1,
        leasesLost: 0,
        batchedFrames: decided,
      });
      expect(seriesValue(text, 'framesift_inference_latency_seconds_count')).toBe(
        seriesValue(text, 'framesift_batch_size_count'),
      );
      expect(seriesValue(text, 'framesift_batch_size_count') > 0).toBe(decided > 0);
      expect(text).toMatch(/^framesift_process_cpu_seconds_total /m);
      total += decided;
    }
    expect(total).toBe(Object.values(counts).reduce((a, b) => a + b, 0));
    // Stopped, a worker closes its port.
    workers[1]!.child.kill('SIGTERM');
    expect(await workers[1]!.exited).toBe(0);
    await expect(fetch(urls[1]!)).rejects.toThrow();
  });

  it("frames above the server's max_payload are refused at publish and counted; kept photos' results are split to fit", async () => {
    // 24,000 bytes: the larger fixture photos (up to ~37 KB) do not fit as frames; several kept photos in one
    // batch do not fit as one results message, and a larger kept photo does not fit with its image in
    // base64 and its feature.
    const maxPayload = 24_000;
    nats = await startNats({ partitions: 1, maxPayloadBytes: maxPayload });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    const folder = path.resolve('tests/fixtures/photos/caltech-resize');
    const jpegs = (await readdir(folder)).filter((f) => f.endsWith('.jpg')).sort();
    const sizes = await Promise.all(
      jpegs.map(async (f) => (await readFile(path.join(folder, f))).byteLength),
    );
    // The frame is the 24-byte header and the JPEG; its NATS headers (message id, session) count against
    // max_payload too, so no photo may lie within their size of the limit for this count to be exact.
    expect(sizes.filter((bytes) => Math.abs(24 + bytes - maxPayload) < 500)).toEqual([]);
    const tooLarge = sizes.filter((bytes) => 24 + bytes > maxPayload).length;
    expect(tooLarge).toBeGreaterThan(0);
    const port = await freePort();
    const worker = track(
      startWorker(nats.url, 0, ['--mode', 'dedupe', '--batch-size', '16', '--metrics-port', String(port)]),
    );
    await owning(worker);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const discardedBefore = await discardedCount('belt', 'bus-too-large');
    const end = await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'belt', source: folder, mode: 'dedupe', fps: 0 }),
    );
    expect(end.sent).toBe(jpegs.length);
    expect(end.discarded['bus-too-large']).toHaveLength(tooLarge);
    expect((await discardedCount('belt', 'bus-too-large')) - discardedBefore).toBe(tooLarge);
    const [results] = await collector.waitFor(1);
    const doc = results!.written.document;
    expect(results!.session.complete).toBe(true);
    expect(doc.counts.processed).toBe(jpegs.length - tooLarge);
    expect(doc.counts.dropped).toEqual({ 'bus-too-large': tooLarge });
    expect(doc.counts.missing).toBe(0);
    expect(doc.reconciliation.reconciled).toBe(true);
    // Kept photos whose image alone is too large for a result keep their decision, without the image;
    // the worker counts each.
    const kept = results!.session.outcomes.filter((o) => o.kept);
    const withoutImage = kept.filter((o) => !o.image).length;
    expect(withoutImage).toBeGreaterThan(0);
    expect(kept.length - withoutImage).toBeGreaterThan(1);
    // Every processed frame is a unique or a duplicate in the results; only the images with the outcome
    // are in the saved folder.
    expect(doc.dedupe).toMatchObject({
      uniques: kept.length,
      duplicates: doc.counts.processed - kept.length,
    });
    const manifest = JSON.parse(
      await readFile(path.join(results!.savedFolder!, 'manifest.json'), 'utf8'),
    ) as { counts: { uniques: number } };
    expect(manifest.counts.uniques).toBe(kept.length - withoutImage);
    const text = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(seriesValue(text, 'framesift_bus_result_images_omitted_total{partition="0"}')).toBe(withoutImage);
    expect(seriesValue(text, 'framesift_bus_results_published_total{partition="0"}')).toBe(
      jpegs.length - tooLarge,
    );
  });

  it('a full backlog refuses frames at publish; each refusal is counted and reconciled as dropped', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    const end = await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'gate', count: 200, fps: 0, busBacklogFrames: 50 }),
    );
    expect(end.sent).toBe(200);
    expect(end.discarded['bus-full']).toHaveLength(150);
    // The publisher's refusals are counted in its process's metrics too.
    expect(await discardedCount('gate', 'bus-full')).toBe(150);
    const results = await drainOneSession(['--bus-backlog-frames', '50']);
    expectRefusalsReconciled(results, 200, 150);
    const saved = JSON.parse(await readFile(path.join(results.written.folder, 'results.json'), 'utf8')) as {
      counts: { processed: number };
    };
    expect(saved.counts.processed).toBe(50);
  });

  it('a camera on its own publishes to the bus (the camera source of `serve`, same options); every frame decided', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // A loopback camera: each GET returns the next fixture photo.
    const folder = path.resolve('tests/fixtures/photos/caltech-resize');
    const photos = (await readdir(folder)).filter((f) => f.endsWith('.jpg')).sort();
    let requests = 0;
    const camera = http.createServer((_req, res) => {
      void readFile(path.join(folder, photos[requests++ % photos.length]!)).then((jpeg) =>
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg),
      );
    });
    await new Promise<void>((resolve) => camera.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => camera.close(resolve)));
    const worker = track(startWorker(nats.url, 0, ['--mode', 'dedupe']));
    await owning(worker);
    const collector = new Collector(nats.url, out);
    cleanups.push(() => collector.stop());
    const end = await busPublishCommand(
      busConfig({
        bus: nats.url,
        camera: 'porch',
        source: 'camera',
        cameraAddress: `http://127.0.0.1:${(camera.address() as AddressInfo).port}/`,
        imagesPerSecond: 50,
        count: 12,
        mode: 'dedupe',
      }),
    );
    expect(end.sent).toBe(12);
    expect(requests).toBeGreaterThanOrEqual(12);
    const [results] = await collector.waitFor(1);
    expectAllProcessedOnce(results!, 12);
    expect(results!.written.document.dedupe?.uniques).toBeGreaterThan(0);
  });

  it('a backlog full by bytes refuses frames at publish; every refusal is counted and reconciled as dropped', async () => {
    nats = await startNats({ partitions: 1 });
    out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // 64 KiB of backlog and no worker yet: about 65 Fashion-MNIST frames (784 bytes and the message's
    // subject and headers each) fit, the rest is refused.
    const flags = { busBacklogBytes: 64 * 1024 };
    const before = await discardedCount('pier', 'bus-full');
    const end = await busPublishCommand(
      busConfig({ bus: nats.url, camera: 'pier', count: 300, fps: 0, ...flags }),
    );
    const refused = end.discarded['bus-full'] ?? [];
    expect(refused.length).toBeGreaterThan(100);
    expect(refused.length).toBeLessThan(300 - 40);
    expect((await discardedCount('pier', 'bus-full')) - before).toBe(refused.length);
    const results = await drainOneSession(['--bus-backlog-bytes', String(64 * 1024)]);
    expectRefusalsReconciled(results, 300, refused.length);
  });
});

describe.skipIf(!available)('bus mode on a 3-node NATS cluster', () => {
  let cluster: NatsCluster;
  afterEach(async () => {
    await cluster?.stop();
  });

  it('keeps publishing and processing when a node is killed', async () => {
    cluster = await startNatsCluster({ partitions: 1 });
    const out = await mkdtemp(path.join(os.tmpdir(), 'framesift-bus-'));
    // Raft elections after a node loss take seconds: a lease TTL well above them.
    const worker = track(startWorker(cluster.servers, 0, ['--bus-replicas', '3', '--lease-ttl-ms', '10000']));
    await owning(worker);
    const collector = new Collector(cluster.servers, out, 30_000);
    cleanups.push(() => collector.stop());
    let killed = false;
    const end = await busPublishCommand(
      busConfig({ bus: cluster.servers, camera: 'yard', count: 2000, fps: 2000, busReplicas: 3 }),
      {
        onPublished: (seq) => {
          if (seq === 500 && !killed) {
            killed = true;
            cluster.nodes[2]!.kill();
          }
        },
      },
    );
    expect(killed).toBe(true);
    const [results] = await collector.waitFor(1);
    const refused = Object.values(end.discarded).reduce((n, seqs) => n + (seqs?.length ?? 0), 0);
    expect({ missing: results!.session.missing.length, refused }).toEqual({ missing: 0, refused });
    expect(results!.session.complete).toBe(true);
    expect(results!.written.document.counts.processed + refused).toBe(2000);
    // Refusals during the node's loss are counted by reason, never lost silently; most frames go through.
    expect(results!.written.document.counts.processed).toBeGreaterThan(1500);
  });
});
