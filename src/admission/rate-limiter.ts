/**
 * A token bucket per key: `ratePerSecond` sustained, bursts up to `burst`. Buckets that have
 * refilled completely carry no information and are swept, so idle users cost nothing.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();
  private lastSweep: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastSweep = now();
  }

  /** Takes one token for the key; false when the bucket is empty. */
  tryTake(key: string): boolean {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key);
    const tokens = bucket
      ? Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond)
      : this.burst;
    if (tokens < 1) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.updatedAt = now;
      }
      return false;
    }
    this.buckets.set(key, { tokens: tokens - 1, updatedAt: now });
    return true;
  }

  private sweep(now: number): void {
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    if (now - this.lastSweep < fullAfterMs) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.buckets.delete(key);
    }
  }
}
