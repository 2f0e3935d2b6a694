// Login rate limiting, per client address: an attempt takes a slot synchronously when the
// request arrives (before any await), a few attempts are free, then exponential back-off.
// Password checks (scrypt, CPU-heavy) run one at a time per client and a few at a time in
// all, so one client can neither brute-force in parallel nor keep another client out.

export interface ThrottleVerdict {
  readonly allowed: boolean;
  readonly retryAfterMs: number;
}

/** How a login attempt ended: a failure counts towards the back-off (malformed requests too). */
export type AttemptOutcome = 'success' | 'failure' | 'neutral';

/** An attempt that holds a slot; settle it exactly once (later calls are ignored). */
export interface LoginAttempt extends ThrottleVerdict {
  settle(outcome: AttemptOutcome): void;
}

export interface LoginThrottleOptions {
  /** Attempts before back-off starts, counting those still in flight. */
  readonly freeAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Password checks running at once across all clients (each client has at most one). */
  readonly maxConcurrentChecks?: number;
  readonly now?: () => number;
}

interface ClientState {
  failures: number;
  /** Attempts that took a slot and have not settled. */
  pending: number;
  blockedUntil: number;
  last: number;
  /** The tail of this client's password checks (they run one after another). */
  checks: Promise<unknown>;
}

export class LoginThrottle {
  private readonly clients = new Map<string, ClientState>();
  private readonly freeAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxConcurrentChecks: number;
  private readonly now: () => number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(opts: LoginThrottleOptions = {}) {
    this.freeAttempts = opts.freeAttempts ?? 5;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    this.maxConcurrentChecks = opts.maxConcurrentChecks ?? 2;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Takes a slot for one attempt by `client`, synchronously. Refused while the client is
   * backing off, or when its failures plus its attempts in flight reach the free attempts.
   */
  begin(client: string): LoginAttempt {
    const t = this.now();
    const c = this.state(client, t);
    if (c.blockedUntil > t) return refused(c.blockedUntil - t);
    // Free attempts may run side by side; once they are used up, one attempt at a time (each
    // failure then doubles the wait). Attempts in flight count, so a burst gets no more.
    const busy = c.failures < this.freeAttempts ? c.failures + c.pending >= this.freeAttempts : c.pending > 0;
    if (busy) return refused(Math.max(1000, this.delayFor(c.failures + c.pending)));
    c.pending++;
    c.last = t;
    let settled = false;
    return {
      allowed: true,
      retryAfterMs: 0,
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        c.pending--;
        this.settle(client, c, outcome);
      },
    };
  }

  /**
   * Runs a password check: after this client's previous check, and while fewer than
   * `maxConcurrentChecks` run in all (first come, first served).
   */
  check<T>(client: string, fn: () => Promise<T>): Promise<T> {
    const c = this.state(client, this.now());
    const run = c.checks.then(async () => {
      await this.acquire();
      try {
        return await fn();
      } finally {
        this.release();
      }
    });
    c.checks = run.catch(() => undefined);
    return run;
  }

  private state(client: string, t: number): ClientState {
    let c = this.clients.get(client);
    if (!c) {
      c = { failures: 0, pending: 0, blockedUntil: 0, last: t, checks: Promise.resolve() };
      this.clients.set(client, c);
      if (this.clients.size > 10_000) this.prune(t);
    }
    return c;
  }

  private settle(client: string, c: ClientState, outcome: AttemptOutcome): void {
    const t = this.now();
    if (outcome === 'success') {
      c.failures = 0;
      c.blockedUntil = 0;
    } else if (outcome === 'failure') {
      c.failures++;
      if (c.failures >= this.freeAttempts) c.blockedUntil = Math.max(c.blockedUntil, t + this.delayFor(c.failures));
    }
    c.last = t;
    if (c.failures === 0 && c.pending === 0) this.clients.delete(client);
  }

  private delayFor(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, failures - this.freeAttempts));
  }

  private prune(t: number): void {
    for (const [k, v] of this.clients) {
      if (v.pending === 0 && v.blockedUntil <= t && t - v.last > this.maxDelayMs) this.clients.delete(k);
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.maxConcurrentChecks) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function refused(retryAfterMs: number): LoginAttempt {
  return { allowed: false, retryAfterMs, settle: () => undefined };
}
