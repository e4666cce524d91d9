import { describe, expect, it } from 'vitest';
import { Pacer } from '../../../src/stream/index.js';

/** Simulates a sender: each frame takes `costOf(i)` ms after its wait. Returns the send times. */
function simulate(
  fps: number,
  frames: number,
  costOf: (i: number) => number,
): { sends: number[]; pacer: Pacer } {
  const pacer = new Pacer(fps, 1000);
  let now = 1000;
  const sends: number[] = [];
  for (let i = 0; i < frames; i++) {
    now += pacer.delayBefore(i, now);
    sends.push(now);
    now += costOf(i);
  }
  return { sends, pacer };
}

describe('Pacer', () => {
  it('sends frame k at start + k × period when the sender keeps up', () => {
    const { sends, pacer } = simulate(100, 200, () => 0.3);
    expect(sends[0]).toBe(1000);
    expect(sends[199]).toBeCloseTo(1000 + 199 * 10, 6);
    expect(pacer.targetOf(200)).toBeCloseTo(3000, 6); // 200 frames at 100 fps own 2 s
    expect(pacer.reanchors).toBe(0);
  });

  it('does not accumulate jitter: late timers shorten the next wait', () => {
    const pacer = new Pacer(10, 0);
    expect(pacer.delayBefore(1, 0)).toBe(100);
    // The timer fired 7 ms late: frame 2 is still due at 200, not 207.
    expect(pacer.delayBefore(2, 107)).toBe(93);
  });

  it('sends a frame less than one period late at once, without re-anchoring', () => {
    const pacer = new Pacer(10, 0);
    expect(pacer.delayBefore(3, 350)).toBe(0);
    expect(pacer.reanchors).toBe(0);
    expect(pacer.delayBefore(4, 360)).toBe(40);
  });

  it('re-anchors after a stall longer than one period instead of bursting to catch up', () => {
    // Frame 50 stalls for 500 ms (50 periods at 100 fps).
    const { sends, pacer } = simulate(100, 100, (i) => (i === 50 ? 500 : 0));
    expect(pacer.reanchors).toBe(1);
    const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
    // Never two frames closer than one period: no burst after the stall.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(10 - 1e-9);
    expect(gaps[50]).toBe(500);
    expect(sends[99]! - sends[51]!).toBeCloseTo(48 * 10, 6);
  });

  it('refuses fps ≤ 0 (fps 0 is backpressure, not pacing)', () => {
    expect(() => new Pacer(0, 0)).toThrow(RangeError);
  });
});

describe('Pacer above 500 fps', () => {
  it('tolerates timer-sized lateness (2 ms) instead of re-anchoring on every frame', () => {
    // 1000 fps, every timer fires 1.2 ms late: the schedule holds, frames late by less than 2 ms go at once.
    const pacer = new Pacer(1000, 0);
    let now = 0;
    const sends: number[] = [];
    for (let i = 0; i < 100; i++) {
      const delay = pacer.delayBefore(i, now);
      now += delay > 0 ? delay + 1.2 : 0;
      sends.push(now);
    }
    expect(pacer.reanchors).toBe(0);
    expect(sends[99]!).toBeLessThan(99 + 2);
    // A real stall still re-anchors.
    expect(pacer.delayBefore(100, now + 50)).toBe(0);
    expect(pacer.reanchors).toBe(1);
  });
});
