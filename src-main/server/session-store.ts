// Web console sessions: random ids in an HttpOnly cookie, a CSRF token each, idle and
// absolute expiry, a cap on how many exist, and the sockets each one owns (closed on logout
// or expiry).
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface SessionSocket {
  close(code: number, reason: string): void;
}

export interface Session {
  readonly id: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeen: number;
  readonly sockets: Set<SessionSocket>;
}

export interface SessionStoreOptions {
  maxSessions: number;
  idleMs: number;
  absoluteMs: number;
  now?: () => number;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;
  constructor(private readonly opts: SessionStoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  create(): Session {
    this.sweep();
    // At the cap the oldest session goes (and its sockets with it).
    while (this.sessions.size >= this.opts.maxSessions) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      if (!oldest) break;
      this.destroy(oldest.id, 'session limit reached');
    }
    const s: Session = {
      id: token(),
      csrfToken: token(),
      createdAt: this.now(),
      lastSeen: this.now(),
      sockets: new Set(),
    };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session for a cookie value, refreshing its idle timer; undefined if none or expired. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s || this.expire(s)) return undefined;
    s.lastSeen = this.now();
    return s;
  }

  private expire(s: Session): boolean {
    const t = this.now();
    if (t - s.lastSeen > this.opts.idleMs || t - s.createdAt > this.opts.absoluteMs) {
      this.destroy(s.id, 'session expired');
      return true;
    }
    return false;
  }

  destroy(id: string, reason: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    for (const sock of s.sockets) sock.close(4401, reason);
    s.sockets.clear();
  }

  /** Ends expired sessions (also closing their sockets); run on a timer and on create. */
  sweep(): void {
    for (const s of [...this.sessions.values()]) this.expire(s);
  }

  get size(): number {
    return this.sessions.size;
  }

  destroyAll(reason: string): void {
    for (const id of [...this.sessions.keys()]) this.destroy(id, reason);
  }
}
