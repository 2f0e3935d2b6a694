// Login rate limiting: a few free attempts per client address, then exponential back-off;
// plus a global ceiling so many addresses cannot brute-force together.

export interface ThrottleVerdict {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; blockedUntil: number; last: number }>();
  private globalWindow: number[] = [];
  constructor(
    private readonly freeAttempts = 5,
    private readonly baseDelayMs = 1000,
    private readonly maxDelayMs = 15 * 60_000,
    private readonly globalPerMinute = 60,
    private readonly now: () => number = Date.now,
  ) {}

  check(client: string): ThrottleVerdict {
    const t = this.now();
    this.globalWindow = this.globalWindow.filter((x) => t - x < 60_000);
    if (this.globalWindow.length >= this.globalPerMinute) {
      return { allowed: false, retryAfterMs: 60_000 - (t - (this.globalWindow[0] ?? t)) };
    }
    const f = this.failures.get(client);
    if (f && f.blockedUntil > t) return { allowed: false, retryAfterMs: f.blockedUntil - t };
    this.globalWindow.push(t);
    return { allowed: true, retryAfterMs: 0 };
  }

  recordFailure(client: string): void {
    const t = this.now();
    const f = this.failures.get(client) ?? { count: 0, blockedUntil: 0, last: t };
    f.count++;
    f.last = t;
    if (f.count >= this.freeAttempts) {
      const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (f.count - this.freeAttempts));
      f.blockedUntil = t + delay;
    }
    this.failures.set(client, f);
    if (this.failures.size > 10_000) {
      for (const [k, v] of this.failures) if (t - v.last > this.maxDelayMs) this.failures.delete(k);
    }
  }

  recordSuccess(client: string): void {
    this.failures.delete(client);
  }
}
