/**
 * A token bucket: up to `perSecond` units a second, with bursts of at most one second's worth.
 * `take` says how long to wait before the next unit is available (0: go on).
 */
export class RateLimiter {
  private readonly perMs: number;
  private readonly capacity: number;
  private tokens: number;
  private updatedAt: number;

  constructor(perSecond: number, now = Date.now()) {
    this.perMs = perSecond / 1000;
    this.capacity = perSecond;
    this.tokens = perSecond;
    this.updatedAt = now;
  }

  /** Spends `units` (possibly into debt) and returns the milliseconds until the bucket is positive again. */
  take(units: number, now = Date.now()): number {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.perMs);
    this.updatedAt = now;
    this.tokens -= units;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }
}
