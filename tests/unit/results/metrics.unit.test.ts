import { describe, expect, it } from 'vitest';
import { ResultsCollector } from '../../../src/results/collector.js';
import { FASHION_MNIST_CLASSES } from '../../../src/results/labels.js';
import { classSummaries, histogram, latencySummary, percentile } from '../../../src/results/metrics.js';

describe('percentile (nearest rank)', () => {
  it('picks the value at rank ceil(p/100 · n)', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile(sorted, 99)).toBe(10);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('latencySummary', () => {
  it('summarises 1..100 ms', () => {
    const values = Float32Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencySummary(values)).toEqual({
      count: 100,
      mean: 50.5,
      min: 1,
      p50: 50,
      p90: 90,
      p99: 99,
      max: 100,
    });
  });

  it('skips frames without a time and is null with none', () => {
    expect(latencySummary([Number.NaN, 4, Number.POSITIVE_INFINITY])).toMatchObject({ count: 1, p50: 4 });
    expect(latencySummary([])).toBeNull();
  });
});

describe('classSummaries', () => {
  it('counts and averages confidence per class, listing unpredicted named classes with zero', () => {
    const labels = [0, 0, 9, 9, 9, 3];
    const confidences = [0.5, 1, 0.9, 0.6, 0.3, 0.75];
    const rows = classSummaries(labels, confidences, FASHION_MNIST_CLASSES);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toEqual({ label: 0, name: 'T-shirt/top', count: 2, meanConfidence: 0.75 });
    expect(rows[9]).toEqual({ label: 9, name: 'Ankle boot', count: 3, meanConfidence: 0.6 });
    expect(rows[3]).toEqual({ label: 3, name: 'Dress', count: 1, meanConfidence: 0.75 });
    expect(rows[1]).toEqual({ label: 1, name: 'Trouser', count: 0, meanConfidence: null });
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(labels.length);
  });

  it('names unknown labels "class N" without a name list', () => {
    expect(classSummaries([412, 7], [1, 1], undefined).map((r) => r.name)).toEqual(['class 7', 'class 412']);
  });
});

describe('histogram', () => {
  it('bins values and folds the ones above range into the last bin', () => {
    const h = histogram([0, 0.5, 1, 1.5, 9, 100], 4, 8);
    expect(h.binWidth).toBe(2);
    expect(h.counts).toEqual([4, 0, 0, 2]);
    expect(h.overflow).toBe(2);
    expect(h.edges).toEqual([0, 2, 4, 6]);
  });
});

describe('ResultsCollector', () => {
  it('returns columns sorted by seq with confidence rounded to 4 decimals, whatever the arrival order', () => {
    const collector = new ResultsCollector();
    const arrivals: Array<[number, number, number]> = [
      [2, 9, 0.123456],
      [0, 1, 0.99999],
      [1, 3, 0.5],
    ];
    for (const [seq, label, confidence] of arrivals) collector.add(seq, label, confidence, 1000, 1010 + seq);
    expect(collector.columns()).toEqual({ seq: [0, 1, 2], label: [1, 3, 9], confidence: [1, 0.5, 0.1235] });
    expect([...collector.latencyMs()]).toEqual([12, 10, 11]);
    expect(collector.activeWindowMs).toBe(12);
  });

  it('grows past its initial capacity, keeps a repeated seq once and clamps bad confidences', () => {
    const collector = new ResultsCollector();
    for (let seq = 4999; seq >= 0; seq--) collector.add(seq, seq % 10, (seq % 100) / 100);
    collector.add(10, 0, Number.NaN);
    collector.add(5000, 0, 1.7);
    const columns = collector.columns();
    expect(columns.seq).toHaveLength(5001);
    expect(columns.seq.every((s, i) => s === i)).toBe(true);
    expect(columns.label[4321]).toBe(1);
    expect(columns.confidence[4321]).toBe(0.21);
    expect(columns.confidence[5000]).toBe(1);
    // No send times: no latencies, no window.
    expect(collector.latencyMs()).toHaveLength(0);
    expect(collector.activeWindowMs).toBeNull();
  });

  it('counts latency of unlabelled frames without adding predictions', () => {
    const collector = new ResultsCollector();
    collector.addUnlabelled(100, 130);
    expect(collector.size).toBe(0);
    expect([...collector.latencyMs()]).toEqual([30]);
  });
});
