/**
 * Requests per second per user: a token bucket per user id (rate, burst), so
 * one client retrying in a tight loop slows only itself. Buckets of users idle
 * long enough to be full again are dropped, bounding memory by active users.
 */
export class UserRateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(ratePerSecond: number, burst: number) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.#rate = ratePerSecond;
    this.#burst = burst;
  }

  /** Takes one token; false when the user is over the rate. */
  take(user: string, now = Date.now()): boolean {
    if (this.#buckets.size > 10_000) this.#sweep(now);
    const bucket = this.#buckets.get(user) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    this.#buckets.set(user, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  #sweep(now: number): void {
    const refillMs = (this.#burst / this.#rate) * 1000;
    for (const [user, bucket] of this.#buckets) if (now - bucket.at > refillMs) this.#buckets.delete(user);
  }
}
