/**
 * Frame pacing against absolute target times: frame k is due at anchor + k × period, so timer jitter does
 * not accumulate over a session. After a stall longer than one period (slow receiver, GC pause) the
 * schedule is re-anchored at the late frame instead of bursting to catch up.
 */
export class Pacer {
  readonly periodMs: number;
  private anchor: number;
  /** Index of the frame the schedule counts from since the last re-anchor. */
  private anchorIndex = 0;
  /** How many times the schedule was re-anchored (for logs and tests). */
  reanchors = 0;

  constructor(fps: number, startMs: number) {
    if (!(fps > 0)) throw new RangeError(`Pacer needs fps > 0, got ${fps}`);
    this.periodMs = 1000 / fps;
    this.anchor = startMs;
  }

  /** When frame `index` is due under the current schedule. */
  targetOf(index: number): number {
    return this.anchor + (index - this.anchorIndex) * this.periodMs;
  }

  /**
   * How long to wait (ms, ≥ 0) before sending frame `index` at time `now`. A frame at most one period late
   * goes at once; a later one re-anchors the schedule so that it is due now.
   */
  delayBefore(index: number, now: number): number {
    const target = this.targetOf(index);
    if (now - target > this.periodMs) {
      this.anchor = now;
      this.anchorIndex = index;
      this.reanchors++;
      return 0;
    }
    return Math.max(0, target - now);
  }
}
