/**
 * Frame pacing against absolute target times: frame k is due at anchor + k × period, so timer jitter does
 * not accumulate over a session. After a stall longer than one period (slow receiver, GC pause) the
 * schedule is re-anchored at the late frame instead of bursting to catch up.
 */
/**
 * Node's timers fire about 1 ms late at best, so above 500 fps "more than one period late" would be true of
 * nearly every frame and the schedule would re-anchor (and slow down) constantly. Lateness up to this much
 * is therefore tolerated even when the period is shorter.
 */
export const TIMER_SLACK_MS = 2;

export class Pacer {
  periodMs: number;
  /** Lateness beyond which the schedule re-anchors: one period, but at least the timer slack. */
  toleranceMs: number;
  private anchor: number;
  /** Index of the frame the schedule counts from since the last re-anchor. */
  private anchorIndex = 0;
  /** How many times the schedule was re-anchored (for logs and tests). */
  reanchors = 0;

  constructor(fps: number, startMs: number) {
    if (!(fps > 0)) throw new RangeError(`Pacer needs fps > 0, got ${fps}`);
    this.periodMs = 1000 / fps;
    this.toleranceMs = Math.max(this.periodMs, TIMER_SLACK_MS);
    this.anchor = startMs;
  }

  /** A live rate change: frame `index` and the ones after it follow `fps`, counted from `now`. */
  retime(fps: number, index: number, now: number): void {
    if (!(fps > 0)) throw new RangeError(`Pacer needs fps > 0, got ${fps}`);
    this.periodMs = 1000 / fps;
    this.toleranceMs = Math.max(this.periodMs, TIMER_SLACK_MS);
    this.anchor = now;
    this.anchorIndex = index;
  }

  /** When frame `index` is due under the current schedule. */
  targetOf(index: number): number {
    return this.anchor + (index - this.anchorIndex) * this.periodMs;
  }

  /**
   * How long to wait (ms, ≥ 0) before sending frame `index` at time `now`. A frame at most one period late
   * (or TIMER_SLACK_MS, when the period is shorter) goes at once; a later one re-anchors the schedule so that
   * it is due now.
   */
  delayBefore(index: number, now: number): number {
    const target = this.targetOf(index);
    if (now - target > this.toleranceMs) {
      this.anchor = now;
      this.anchorIndex = index;
      this.reanchors++;
      return 0;
    }
    return Math.max(0, target - now);
  }
}
