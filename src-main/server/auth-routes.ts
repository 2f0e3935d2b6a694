// The web console's sign-in: login (password or printed one-time token, throttled per
// client), logout, the session cookie, and the CSRF check every state-changing request needs.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, HttpError, json, parseCookies } from './http-replies';
import { LoginThrottle } from './login-throttle';
import { loadPasswordHash, verifyPassword } from './password-store';
import { readJsonObject } from './request-body';
import { safeEqual, SessionStore, type Session } from './session-store';

export const SESSION_COOKIE = 'maru_session';

export interface AuthRoutesOptions {
  readonly maruHome: string;
  readonly tls: boolean;
  readonly maxSessions: number;
  readonly sessionIdleMs: number;
  readonly sessionAbsoluteMs: number;
  readonly maxBodyBytes: number;
  readonly throttle?: LoginThrottle;
  readonly log: (line: string) => void;
}

export class AuthRoutes {
  readonly sessions: SessionStore;
  private readonly throttle: LoginThrottle;
  /** Login token printed at start when no password is set; single use, replaced after use. */
  private oneTimeToken: string | null = null;

  constructor(private readonly opts: AuthRoutesOptions) {
    this.sessions = new SessionStore({
      maxSessions: opts.maxSessions,
      idleMs: opts.sessionIdleMs,
      absoluteMs: opts.sessionAbsoluteMs,
    });
    this.throttle = opts.throttle ?? new LoginThrottle();
  }

  /** Reads the password file; when none is set, makes the one-time token to print. */
  async prepare(): Promise<string | null> {
    const hash = await loadPasswordHash(this.opts.maruHome);
    this.oneTimeToken = hash ? null : randomBytes(18).toString('base64url');
    return this.oneTimeToken;
  }

  sessionOf(req: IncomingMessage): Session | undefined {
    return this.sessions.get(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
  }

  /** True when a state-changing request carries the session's CSRF token (header X-Maru-CSRF). */
  csrfOk(req: IncomingMessage, session: Session): boolean {
    const csrf = req.headers['x-maru-csrf'];
    return typeof csrf === 'string' && safeEqual(csrf, session.csrfToken);
  }

  /** GET /api/session: the CSRF token of the signed-in page. */
  sessionInfo(res: ServerResponse, session: Session): void {
    json(res, 200, { ok: true, value: { csrfToken: session.csrfToken } });
  }

  /** POST /api/logout (after the CSRF check): ends the session and closes its sockets. */
  logout(res: ServerResponse, session: Session): void {
    this.sessions.destroy(session.id, 'logged out');
    json(res, 200, { ok: true, value: null }, { 'Set-Cookie': this.cookie('', 0) });
  }

  /**
   * POST /api/login (after the Origin check). The attempt takes its throttle slot before any
   * await; a malformed request is a 4xx and counts as a failed attempt.
   */
  async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = clientAddress(req);
    const attempt = this.throttle.begin(client);
    let outcome: 'success' | 'failure' | 'neutral' = 'failure';
    try {
      // The body is read (and a bad one answered) even when throttled: a 400 tells nothing.
      const body = await readJsonObject(req, this.opts.maxBodyBytes);
      if (!attempt.allowed) {
        outcome = 'neutral';
        const s = Math.ceil(attempt.retryAfterMs / 1000);
        throw new HttpError(429, 'THROTTLED', `Too many login attempts. Try again in ${s} s.`, {
          'Retry-After': String(s),
        });
      }
      outcome = 'neutral'; // a server-side failure below (say, a damaged password file) is not the client's
      const hash = await loadPasswordHash(this.opts.maruHome);
      let ok = false;
      if (typeof body.password === 'string' && hash) {
        const password = body.password;
        ok = await this.throttle.check(client, () => verifyPassword(hash, password));
      } else if (typeof body.token === 'string' && !hash && this.oneTimeToken) {
        ok = safeEqual(body.token, this.oneTimeToken);
        if (ok) {
          // Single use: the next login needs a new token (printed) or a password.
          this.oneTimeToken = randomBytes(18).toString('base64url');
          this.opts.log(`maru serve: one-time token used. Next one-time login token: ${this.oneTimeToken}`);
        }
      }
      outcome = ok ? 'success' : 'failure';
      if (!ok) throw new HttpError(401, 'UNAUTHENTICATED', hash ? 'Wrong password.' : 'Wrong or used login token.');
    } finally {
      attempt.settle(outcome);
    }
    const session = this.sessions.create();
    json(
      res,
      200,
      { ok: true, value: { csrfToken: session.csrfToken } },
      { 'Set-Cookie': this.cookie(session.id, Math.floor(this.opts.sessionAbsoluteMs / 1000)) },
    );
  }

  private cookie(value: string, maxAgeS: number): string {
    return [
      `${SESSION_COOKIE}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAgeS}`,
      ...(this.opts.tls ? ['Secure'] : []),
    ].join('; ');
  }
}
