import { describe, expect, it } from 'vitest';
import { SampleCollector, type FrameImage } from '../../../src/results/samples.js';

interface Prediction {
  seq: number;
  label: number;
  confidence: number;
}

/** A deterministic stream of predictions over `classes` classes, with repeated confidences (ties). */
function predictions(count: number, classes: number): Prediction[] {
  let state = 7;
  const random = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, (_, seq) => ({
    seq,
    label: Math.floor(random() * classes),
    // Two decimals: many ties, which must break towards the lower seq.
    confidence: Math.round((0.3 + random() * 0.7) * 100) / 100,
  }));
}

/** A raw 4×4 frame whose pixels encode its seq, in a buffer the caller reuses (like a frame-ring slot). */
const slot = new Uint8Array(16);
function frameView(seq: number): FrameImage {
  slot.fill(seq % 256);
  return { width: 4, height: 4, channels: 1, encoding: 0, data: slot };
}

function collect(order: Prediction[]): SampleCollector {
  const collector = new SampleCollector();
  for (const p of order) collector.offer(p.seq, p.label, p.confidence, frameView(p.seq));
  return collector;
}

/** Reorders within batches of `size`, as results of a micro-batch arrive from several workers. */
function shuffleWithinBatches<T>(items: T[], size: number, seed: number): T[] {
  let state = seed;
  const random = (): number => (state = (state * 48271) % 2147483647) / 2147483647;
  const out: T[] = [];
  for (let i = 0; i < items.length; i += size) {
    const batch = items.slice(i, i + size);
    for (let j = batch.length - 1; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [batch[j], batch[k]] = [batch[k] as T, batch[j] as T];
    }
    out.push(...batch);
  }
  return out;
}

const summary = (c: SampleCollector): string[] =>
  c.samples().map((s) => `${s.seq}:${s.label}:${s.confidence}:${s.reason}:${s.image.data[0]}`);

describe('SampleCollector', () => {
  it('chooses the same samples whatever the arrival order within batches', () => {
    const stream = predictions(3000, 10);
    const reference = summary(collect(stream));
    expect(reference).toHaveLength(10);
    for (const seed of [1, 2, 3]) {
      expect(summary(collect(shuffleWithinBatches(stream, 32, seed)))).toEqual(reference);
    }
    // Even fully reversed.
    expect(summary(collect([...stream].reverse()))).toEqual(reference);
  });

  it('gives one sample per class, alternating most and least confident, ties to the lowest seq', () => {
    const stream = predictions(3000, 10);
    const samples = collect(stream).samples();
    expect(new Set(samples.map((s) => s.label)).size).toBe(10);
    const byCount = [...Array(10).keys()].sort(
      (a, b) =>
        stream.filter((p) => p.label === b).length - stream.filter((p) => p.label === a).length || a - b,
    );
    byCount.forEach((label, rank) => {
      const sample = samples.find((s) => s.label === label);
      const ofClass = stream.filter((p) => p.label === label);
      const wantMost = rank % 2 === 0;
      const best = ofClass.reduce((a, b) =>
        (wantMost ? b.confidence > a.confidence : b.confidence < a.confidence) ? b : a,
      );
      expect(sample).toMatchObject({
        seq: best.seq,
        confidence: best.confidence,
        reason: wantMost ? 'most-confident' : 'least-confident',
      });
    });
    expect(samples.map((s) => s.label)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('copies the pixels of candidates (the view is reused) and holds a bounded number of frames', () => {
    const collector = collect(predictions(20_000, 10));
    for (const sample of collector.samples()) {
      expect(sample.image.data).not.toBe(slot);
      expect([...sample.image.data]).toEqual(new Array(16).fill(sample.seq % 256));
    }
    // With 10 classes seen: at most 2 most + 2 least confident per class.
    expect(collector.heldFrames).toBeLessThanOrEqual(40);
    expect(collector.heldFrames).toBeGreaterThanOrEqual(20);
  });

  it('fills 10 samples from fewer classes with the next most and least confident', () => {
    const stream = predictions(200, 3);
    const samples = collect(stream).samples();
    expect(samples).toHaveLength(10);
    expect(new Set(samples.map((s) => s.seq)).size).toBe(10);
    expect(new Set(samples.map((s) => s.label))).toEqual(new Set([0, 1, 2]));
    expect(samples.filter((s) => s.reason === 'most-confident')).toHaveLength(3);
    expect(samples.filter((s) => s.reason === 'least-confident')).toHaveLength(3);
    expect(summary(collect(shuffleWithinBatches(stream, 16, 9)))).toEqual(summary(collect(stream)));
  });

  it('picks among more than 10 classes the 10 most predicted, and handles tiny sessions', () => {
    const stream = predictions(5000, 40);
    const samples = collect(stream).samples();
    expect(samples).toHaveLength(10);
    expect(new Set(samples.map((s) => s.label)).size).toBe(10);
    expect(collect(predictions(3, 10)).samples()).toHaveLength(3);
    expect(new SampleCollector().samples()).toEqual([]);
  });

  it('passes over excluded seqs (frames that failed to decode) for the next candidate of the same class', () => {
    const collector = collect(predictions(3000, 10));
    const first = collector.samples();
    const dropped = first[4] as (typeof first)[number];
    const second = collector.samples(new Set([dropped.seq]));
    expect(second).toHaveLength(10);
    expect(second.map((s) => s.seq)).not.toContain(dropped.seq);
    expect(second.filter((s) => s.label === dropped.label)).toHaveLength(1);
    expect(second.filter((s) => s.seq !== first.find((f) => f.label === s.label)?.seq)).toHaveLength(1);
  });

  it('holds pixels for at most 32 classes when a model predicts hundreds', () => {
    // Skewed like a real camera under an ImageNet model: a few classes dominate, many appear a few times.
    let state = 3;
    const random = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const stream = Array.from({ length: 20_000 }, (_, seq) => ({
      seq,
      label: Math.floor(300 * random() ** 3),
      confidence: Math.round(random() * 1000) / 1000,
    }));
    const collector = collect(stream);
    expect(collector.heldFrames).toBeLessThanOrEqual(32 * 4);
    const samples = collector.samples();
    expect(samples).toHaveLength(10);
    // The ten most predicted classes are among the held ones, so each gives its sample.
    const counts = new Map<number, number>();
    for (const p of stream) counts.set(p.label, (counts.get(p.label) ?? 0) + 1);
    const topTen = [...counts.entries()]
      .sort(([la, ca], [lb, cb]) => cb - ca || la - lb)
      .slice(0, 10)
      .map(([label]) => label)
      .sort((a, b) => a - b);
    expect(samples.map((s) => s.label)).toEqual(topTen);
  });
});
