/** Per-client token buckets for write requests, kept in memory (one replica's view). */

export class RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly perMinute: number) {}

  /** Takes one token for `client`; returns seconds to wait when none is left, else 0. */
  take(client: string, now = Date.now()): number {
    const rate = this.perMinute / 60_000;
    const b = this.#buckets.get(client) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.#buckets.set(client, b);
    if (this.#buckets.size > 10_000) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / rate / 1000);
  }
}
