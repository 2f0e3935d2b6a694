// `maru serve`: the web console. Node's own http/https (a small, fixed set of routes needs
// no framework, and upgrades/auth stay in one place) plus `ws` for the control socket and
// the per-VM console sockets. Every /api route and every socket needs a session.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { dispatchControl, type ControlServices } from '../../src-shared/contracts/control';
import {
  JOB_METHODS,
  LIBRARY_MUTATIONS,
  type ControlClientMessage,
  type ControlServerMessage,
} from '../../src-shared/contracts/control-jobs';
import { AppError, toWireError } from '../../src-shared/errors';
import { DEFAULT_MAX_ISO_UPLOAD_BYTES } from '../../src-shared/contracts/iso-upload';
import { isUuid } from '../../src-shared/ids';
import { INITIAL_LIST_ELEMENT_ID, LANGUAGE_COOKIE, RENDERED_LANGUAGE_ATTRIBUTE } from '../../src-shared/web-console';
import { RENDERER_CSP } from '../services/renderer-csp';
import { checkBinding, isLoopbackHost } from './binding-policy';
import { LoginThrottle } from './login-throttle';
import { loadPasswordHash, verifyPassword } from './password-store';
import { safeEqual, SessionStore, type Session } from './session-store';
import { jsonForHtml, serveStatic } from './static-files';
import { ConsoleTickets } from './console-tickets';
import { IsoUploads } from './iso-upload';
import type { PageRenderer } from './page-renderer';

export interface WebServerLimits {
  /** Largest control message accepted; a bigger one closes the socket (1009). */
  readonly maxControlMessageBytes: number;
  /** Most bytes queued to one socket before a reader that stopped reading is dropped. */
  readonly maxSendBufferBytes: number;
  readonly maxSessions: number;
  readonly maxHttpBodyBytes: number;
  readonly sessionIdleMs: number;
  readonly sessionAbsoluteMs: number;
  readonly consoleTicketMs: number;
  /** Largest ISO the upload route accepts. */
  readonly maxIsoUploadBytes: number;
}

export const DEFAULT_LIMITS: WebServerLimits = {
  maxControlMessageBytes: 256 * 1024,
  maxSendBufferBytes: 8 * 1024 * 1024,
  maxSessions: 32,
  maxHttpBodyBytes: 64 * 1024,
  sessionIdleMs: 8 * 3600_000,
  sessionAbsoluteMs: 7 * 24 * 3600_000,
  consoleTicketMs: 30_000,
  maxIsoUploadBytes: DEFAULT_MAX_ISO_UPLOAD_BYTES,
};

export interface WebServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly maruHome: string;
  readonly rendererDir: string;
  readonly services: ControlServices;
  /** Extra origins (e.g. https://nas.local:7780) allowed besides the listening address. */
  readonly allowedOrigins?: readonly string[];
  readonly limits?: Partial<WebServerLimits>;
  /** Where the VM's engine host listens for RFB (unix socket path), or null if not running. */
  readonly consoleEndpoint?: (vmId: string) => Promise<string | null>;
  /** Renders a signed-in user's page on the server (page-renderer.ts); without it the browser does. */
  readonly pageRenderer?: PageRenderer | null;
  readonly log?: (line: string) => void;
}

const COOKIE = 'maru_session';

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export class WebServer {
  private readonly limits: WebServerLimits;
  private readonly sessions: SessionStore;
  private readonly throttle = new LoginThrottle();
  private readonly tickets: ConsoleTickets;
  private readonly uploads: IsoUploads;
  private readonly server: http.Server | https.Server;
  private readonly controlWss: WebSocketServer;
  private readonly consoleWss: WebSocketServer;
  private readonly controlSockets = new Set<WebSocket>();
  private readonly sweepTimer: NodeJS.Timeout;
  /** Login token printed at start when no password is set; single use, replaced after use. */
  private oneTimeToken: string | null = null;
  private origins = new Set<string>();
  private hosts = new Set<string>();
  private readonly log: (line: string) => void;
  /** Counters the security tests and the operator can read. */
  readonly stats = { droppedSlowReaders: 0, oversizedClosed: 0, rejectedUpgrades: 0, rejectedRequests: 0 };

  constructor(private readonly opts: WebServerOptions) {
    checkBinding(opts.host, !!opts.tls);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
    this.sessions = new SessionStore({
      maxSessions: this.limits.maxSessions,
      idleMs: this.limits.sessionIdleMs,
      absoluteMs: this.limits.sessionAbsoluteMs,
    });
    this.tickets = new ConsoleTickets(this.limits.consoleTicketMs);
    this.uploads = new IsoUploads({ maruHome: opts.maruHome, maxBytes: this.limits.maxIsoUploadBytes, log: this.log });
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log(`maru serve: request failed: ${err instanceof Error ? err.stack : String(err)}`);
        if (!res.headersSent) this.json(res, 500, toWireError(err));
        else res.destroy();
      });
    };
    this.server = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : http.createServer(handler);
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.controlWss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxControlMessageBytes });
    // Console traffic is RFB client → server: small messages (keys, pointer, update requests).
    this.consoleWss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
    this.sweepTimer = setInterval(() => this.sessions.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  /** Starts listening; resolves with the URL and, when no password is set, a one-time login token. */
  async start(): Promise<{ url: string; oneTimeToken: string | null }> {
    const hash = await loadPasswordHash(this.opts.maruHome);
    if (!hash) this.oneTimeToken = randomBytes(18).toString('base64url');
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as net.AddressInfo;
    const scheme = this.opts.tls ? 'https' : 'http';
    const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const names = new Set<string>([hostPart, this.opts.host]);
    if (isLoopbackHost(this.opts.host)) {
      names.add('localhost');
      names.add('127.0.0.1');
      names.add('[::1]');
    } else {
      names.add(os.hostname());
    }
    for (const n of names) {
      this.hosts.add(`${n}:${addr.port}`.toLowerCase());
      this.origins.add(`${scheme}://${n}:${addr.port}`.toLowerCase());
    }
    for (const o of this.opts.allowedOrigins ?? []) {
      this.origins.add(o.toLowerCase().replace(/\/$/, ''));
      try {
        this.hosts.add(new URL(o).host.toLowerCase());
      } catch {
        throw new AppError('INVALID_ARGUMENT', `--allow-origin "${o}" is not a URL like https://nas.local:7780.`);
      }
    }
    return { url: `${scheme}://${hostPart}:${addr.port}/`, oneTimeToken: this.oneTimeToken };
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sessions.destroyAll('server shutting down');
    for (const ws of this.controlSockets) ws.terminate();
    for (const ws of this.consoleWss.clients) ws.terminate();
    this.controlWss.close();
    this.consoleWss.close();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ---------------------------------------------------------------------------

  private securityHeaders(res: ServerResponse): void {
    res.setHeader('Content-Security-Policy', RENDERER_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (this.opts.tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string | string[]> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private fail(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers?: Record<string, string>,
  ): void {
    this.stats.rejectedRequests++;
    this.json(res, status, { ok: false, error: { code, message } }, headers);
  }

  private sessionOf(req: IncomingMessage): Session | undefined {
    return this.sessions.get(parseCookies(req.headers.cookie)[COOKIE]);
  }

  private hostAllowed(req: IncomingMessage): boolean {
    // Host allowlist: defeats DNS rebinding (a foreign name resolving to our address).
    const host = (req.headers.host ?? '').toLowerCase();
    return this.hosts.has(host);
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return typeof origin === 'string' && origin !== 'null' && this.origins.has(origin.toLowerCase());
  }

  private async readJsonBody(req: IncomingMessage): Promise<unknown> {
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json')) throw new AppError('INVALID_ARGUMENT', 'Expected application/json.');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.limits.maxHttpBodyBytes) throw new AppError('INVALID_ARGUMENT', 'Request body too large.');
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new AppError('INVALID_ARGUMENT', 'Request body is not valid JSON.');
    }
  }

  /**
   * What a signed-in user's page carries: the library list as a JSON data block and, when a
   * page renderer is there, the app's markup for it (rendered in `language`, said on the block
   * so the browser hydrates only when it shows the same language). A failure leaves the page bare.
   */
  private async signedInPage(
    renderer: PageRenderer | null,
    language: 'en' | 'ko' | undefined,
  ): Promise<{ rootHtml: string; bodyEndHtml: string }> {
    const list = await this.opts.services.library.list().catch(() => null);
    if (!list) return { rootHtml: '', bodyEndHtml: '' };
    let rootHtml = '';
    if (renderer && language) {
      try {
        rootHtml = renderer.render(list, language);
      } catch (err) {
        this.opts.log?.(`maru serve: rendering the page failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const rendered = rootHtml ? ` ${RENDERED_LANGUAGE_ATTRIBUTE}="${language}"` : '';
    return {
      rootHtml,
      bodyEndHtml: `<script type="application/json" id="${INITIAL_LIST_ELEMENT_ID}"${rendered}>${jsonForHtml(list)}</script>`,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.securityHeaders(res);
    if (!this.hostAllowed(req)) {
      this.fail(res, 421, 'FORBIDDEN', 'Unknown Host header (add it with --allow-origin).');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/api/')) {
      // The app shell and its assets; the login screen is part of them. For a signed-in user
      // the page carries the library list (a JSON data block, not a script, streamed after the
      // shell), so the library paints without a round trip; everyone else gets the bare shell.
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.fail(res, 405, 'METHOD', 'Method not allowed.');
        return;
      }
      const session = this.sessionOf(req);
      const renderer = session ? (this.opts.pageRenderer ?? null) : null;
      const language = renderer?.languageFor(
        parseCookies(req.headers.cookie)[LANGUAGE_COOKIE],
        req.headers['accept-language'],
      );
      await serveStatic(this.opts.rendererDir, url.pathname, res, {
        ...(session ? { page: { language, content: () => this.signedInPage(renderer, language) } } : {}),
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/login') {
      await this.login(req, res);
      return;
    }
    const session = this.sessionOf(req);
    if (!session) {
      this.fail(res, 401, 'UNAUTHENTICATED', 'Log in first.');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/library/list') {
      // The library list over plain HTTP too (when the page came without it). Same data as library.list.
      const value = await this.opts.services.library.list();
      this.json(res, 200, { ok: true, value });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/session') {
      this.json(res, 200, { ok: true, value: { csrfToken: session.csrfToken } });
      return;
    }
    if (req.method !== 'POST') {
      this.fail(res, url.pathname === '/api/session' ? 405 : 404, 'NOT_FOUND', 'No such API route.');
      return;
    }
    // Every state-changing request: same-origin and the session's CSRF token.
    const csrf = req.headers['x-maru-csrf'];
    if (!this.originAllowed(req) || typeof csrf !== 'string' || !safeEqual(csrf, session.csrfToken)) {
      this.fail(res, 403, 'FORBIDDEN', 'Missing or wrong CSRF token or Origin.');
      return;
    }
    if (url.pathname === '/api/logout') {
      this.sessions.destroy(session.id, 'logged out');
      this.json(res, 200, { ok: true, value: null }, { 'Set-Cookie': this.cookie('', 0) });
      return;
    }
    if (url.pathname === '/api/isos/upload') {
      await this.uploads.handle(req, res, url);
      return;
    }
    if (url.pathname === '/api/console-ticket') {
      const body = (await this.readJsonBody(req)) as { vmId?: unknown };
      if (typeof body?.vmId !== 'string' || !isUuid(body.vmId)) {
        this.fail(res, 400, 'INVALID_ARGUMENT', 'vmId must be a VM uuid.');
        return;
      }
      const ticket = this.tickets.issue(session.id, body.vmId);
      this.json(res, 200, { ok: true, value: { ticket, expiresInMs: this.limits.consoleTicketMs } });
      return;
    }
    this.fail(res, 404, 'NOT_FOUND', 'No such API route.');
  }

  private cookie(value: string, maxAgeS: number): string {
    return [
      `${COOKIE}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${maxAgeS}`,
      ...(this.opts.tls ? ['Secure'] : []),
    ].join('; ');
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.originAllowed(req)) {
      this.fail(res, 403, 'FORBIDDEN', 'Login must come from the Maru page itself (Origin check).');
      return;
    }
    const client = clientAddress(req);
    const verdict = this.throttle.check(client);
    if (!verdict.allowed) {
      const s = Math.ceil(verdict.retryAfterMs / 1000);
      this.fail(res, 429, 'THROTTLED', `Too many login attempts. Try again in ${s} s.`, { 'Retry-After': String(s) });
      return;
    }
    const body = (await this.readJsonBody(req)) as { password?: unknown; token?: unknown };
    let ok = false;
    const hash = await loadPasswordHash(this.opts.maruHome);
    if (typeof body?.password === 'string' && hash) ok = await verifyPassword(hash, body.password);
    else if (typeof body?.token === 'string' && !hash && this.oneTimeToken) {
      ok = safeEqual(body.token, this.oneTimeToken);
      if (ok) {
        // Single use: the next login needs a new token (printed) or a password.
        this.oneTimeToken = randomBytes(18).toString('base64url');
        this.log(`maru serve: one-time token used. Next one-time login token: ${this.oneTimeToken}`);
      }
    }
    if (!ok) {
      this.throttle.recordFailure(client);
      this.fail(res, 401, 'UNAUTHENTICATED', hash ? 'Wrong password.' : 'Wrong or used login token.');
      return;
    }
    this.throttle.recordSuccess(client);
    const session = this.sessions.create();
    this.json(
      res,
      200,
      { ok: true, value: { csrfToken: session.csrfToken } },
      { 'Set-Cookie': this.cookie(session.id, Math.floor(this.limits.sessionAbsoluteMs / 1000)) },
    );
  }

  // ---- WebSockets ---------------------------------------------------------------------

  private reject(socket: Duplex, status: number, text: string): void {
    this.stats.rejectedUpgrades++;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (!this.hostAllowed(req)) return this.reject(socket, 421, 'Misdirected Request');
    const session = this.sessionOf(req);
    if (!session) return this.reject(socket, 401, 'Unauthorized');
    if (!this.originAllowed(req)) return this.reject(socket, 403, 'Forbidden');
    if (url.pathname === '/api/control') {
      this.controlWss.handleUpgrade(req, socket, head, (ws) => this.onControl(ws, session));
      return;
    }
    const m = /^\/api\/console\/([0-9a-f-]{36})$/.exec(url.pathname);
    if (m && m[1]) {
      const vmId = m[1];
      const ticket = url.searchParams.get('ticket') ?? '';
      if (!this.tickets.redeem(ticket, session.id, vmId)) return this.reject(socket, 403, 'Forbidden');
      this.consoleWss.handleUpgrade(req, socket, head, (ws) => void this.onConsole(ws, session, vmId));
      return;
    }
    this.reject(socket, 404, 'Not Found');
  }

  /** Sends unless the peer has stopped reading; then drops it instead of buffering forever. */
  private send(ws: WebSocket, data: string | Buffer): boolean {
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount + data.length > this.limits.maxSendBufferBytes) {
      this.stats.droppedSlowReaders++;
      ws.terminate();
      return false;
    }
    ws.send(data);
    return true;
  }

  private sendControl(ws: WebSocket, msg: ControlServerMessage): void {
    this.send(ws, JSON.stringify(msg));
  }

  broadcast(event: string, payload?: unknown): void {
    for (const ws of this.controlSockets) this.sendControl(ws, { type: 'event', event, payload });
  }

  private onControl(ws: WebSocket, session: Session): void {
    const sock = { close: (code: number, reason: string) => ws.close(code, reason) };
    session.sockets.add(sock);
    this.controlSockets.add(ws);
    const jobs = new Map<number, AbortController>();
    ws.on('close', (code) => {
      if (code === 1009) this.stats.oversizedClosed++;
      session.sockets.delete(sock);
      this.controlSockets.delete(ws);
      for (const c of jobs.values()) c.abort();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.close(1003, 'text frames only');
        return;
      }
      if (!this.sessions.get(session.id)) {
        ws.close(4401, 'session expired');
        return;
      }
      let msg: ControlClientMessage;
      try {
        msg = JSON.parse(data.toString()) as ControlClientMessage;
      } catch {
        ws.close(1007, 'invalid JSON');
        return;
      }
      if (msg?.type === 'cancel' && typeof msg.id === 'number') {
        jobs.get(msg.id)?.abort();
        return;
      }
      if (msg?.type !== 'call' || typeof msg.id !== 'number' || !Array.isArray(msg.args)) {
        ws.close(1008, 'unknown message');
        return;
      }
      void this.call(ws, msg, jobs);
    });
  }

  private async call(
    ws: WebSocket,
    msg: Extract<ControlClientMessage, { type: 'call' }>,
    jobs: Map<number, AbortController>,
  ): Promise<void> {
    const key = `${String(msg.service)}.${String(msg.method)}`;
    const jobIndex = Object.hasOwn(JOB_METHODS, key) ? JOB_METHODS[key] : undefined;
    let controller: AbortController | undefined;
    let result;
    try {
      // Validate the wire arguments first (the job options are ours, appended after).
      const value = await dispatchControl(this.opts.services, {
        service: msg.service,
        method: msg.method,
        args: msg.args,
        ...(jobIndex !== undefined
          ? {
              job: (() => {
                controller = new AbortController();
                jobs.set(msg.id, controller);
                return {
                  index: jobIndex,
                  options: {
                    signal: controller.signal,
                    onProgress: (p: { phase: string; fraction: number }) =>
                      this.sendControl(ws, { type: 'progress', id: msg.id, phase: p.phase, fraction: p.fraction }),
                  },
                };
              })(),
            }
          : {}),
      });
      result = { ok: true as const, value };
      if (LIBRARY_MUTATIONS.has(key)) this.broadcast('library.changed');
    } catch (err) {
      result = toWireError(err);
    } finally {
      if (controller) jobs.delete(msg.id);
    }
    this.sendControl(ws, { type: 'result', id: msg.id, result });
  }

  private async onConsole(ws: WebSocket, session: Session, vmId: string): Promise<void> {
    const sock = { close: (code: number, reason: string) => ws.close(code, reason) };
    session.sockets.add(sock);
    ws.on('close', () => session.sockets.delete(sock));
    const endpoint = this.opts.consoleEndpoint ? await this.opts.consoleEndpoint(vmId) : null;
    if (!endpoint) {
      ws.close(4404, 'VM is not running');
      return;
    }
    const upstream = net.connect(endpoint);
    upstream.on('error', () => ws.close(4502, 'VM display unavailable'));
    upstream.on('close', () => ws.close(1000, 'VM display closed'));
    // Backpressure: pause the engine's stream while the browser is behind; drop a viewer
    // that stays behind past the send-buffer bound.
    upstream.on('data', (chunk: Buffer) => {
      if (!this.send(ws, chunk)) {
        upstream.destroy();
        return;
      }
      if (ws.bufferedAmount > this.limits.maxSendBufferBytes / 2) {
        upstream.pause();
        const resume = setInterval(() => {
          if (ws.readyState !== ws.OPEN) {
            clearInterval(resume);
            upstream.destroy();
          } else if (ws.bufferedAmount < this.limits.maxSendBufferBytes / 4) {
            clearInterval(resume);
            upstream.resume();
          }
        }, 20);
      }
    });
    ws.on('message', (data: RawData) => {
      upstream.write(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
    });
    ws.on('close', () => upstream.destroy());
    ws.on('error', () => upstream.destroy());
  }
}
