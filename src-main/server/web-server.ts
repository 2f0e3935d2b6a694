// `maru serve`: the web console. Node's own http/https (a small, fixed set of routes needs no
// framework) plus `ws`. This file composes the parts and owns what every request passes
// through: the Host and Origin checks, routing, time limits, and turning errors into answers.
// The parts: auth-routes (login, sessions, CSRF), control-socket, console-proxy, pages, iso-upload.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import type { ControlEvent, ControlEventSource, ControlServices } from '../../src-shared/contracts/control';
import { AppError, toWireError } from '../../src-shared/errors';
import { DEFAULT_MAX_ISO_UPLOAD_BYTES, ISO_UPLOAD_ROUTE } from '../../src-shared/contracts/iso-upload';
import { isoFoldersFromEnv } from '../services/iso-detect/media-service';
import { AuthRoutes } from './auth-routes';
import { checkBinding, isLoopbackHost } from './binding-policy';
import { ConsoleProxy, consolePathVmId } from './console-proxy';
import { ControlSocket } from './control-socket';
import { fail, HttpError, securityHeaders, statusOfAppError, type ServerStats } from './http-replies';
import { IsoUploads } from './iso-upload';
import { LoginThrottle } from './login-throttle';
import type { PageRenderer } from './page-renderer';
import { Pages } from './pages';
import { WebCallerPolicy } from './web-caller-policy';

export interface WebServerLimits {
  /** Largest control message accepted; a bigger one closes the socket (1009). */
  readonly maxControlMessageBytes: number;
  /** Most bytes queued to one socket before a reader that stopped reading is dropped. */
  readonly maxSendBufferBytes: number;
  readonly maxSessions: number;
  /** Largest JSON request body (login, console ticket…); a bigger one is a 413. */
  readonly maxHttpBodyBytes: number;
  readonly sessionIdleMs: number;
  readonly sessionAbsoluteMs: number;
  readonly consoleTicketMs: number;
  /** Largest ISO the upload route accepts. */
  readonly maxIsoUploadBytes: number;
  /** ISO uploads running at once; more are refused (429) at once. */
  readonly maxConcurrentUploads: number;
  /** An ISO upload that sends nothing for this long is aborted (408) and its partial file removed. */
  readonly uploadIdleTimeoutMs: number;
  /**
   * Longest time to receive a whole request, accepted ISO uploads excepted (they may take
   * hours and have the idle limit instead); past it the server answers 408 and closes the
   * connection.
   */
  readonly requestTimeoutMs: number;
  /** Longest time to receive a request's headers. */
  readonly headersTimeoutMs: number;
  /** Login attempts per client address before back-off (attempts in flight count). */
  readonly loginFreeAttempts: number;
  /** Password checks (scrypt) running at once, all clients together; one per client at most. */
  readonly maxConcurrentLoginChecks: number;
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
  maxConcurrentUploads: 2,
  uploadIdleTimeoutMs: 120_000,
  requestTimeoutMs: 300_000,
  headersTimeoutMs: 60_000,
  loginFreeAttempts: 5,
  maxConcurrentLoginChecks: 2,
};

export interface WebServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly maruHome: string;
  readonly rendererDir: string;
  readonly services: ControlServices;
  /** The services' change events (createControlServices), sent to every control socket. */
  readonly events?: ControlEventSource;
  /** Extra origins (e.g. https://nas.local:7780) allowed besides the listening address. */
  readonly allowedOrigins?: readonly string[];
  readonly limits?: Partial<WebServerLimits>;
  /** Where the VM's engine host listens for RFB (unix socket path), or null if not running. */
  readonly consoleEndpoint?: (vmId: string) => Promise<string | null>;
  /** Renders a signed-in user's page on the server (page-renderer.ts); without it the browser does. */
  readonly pageRenderer?: PageRenderer | null;
  /** More ISO folders a web caller may use (default: MARU_ISO_FOLDERS of this process). */
  readonly isoFolders?: readonly string[];
  /** The owner's setting: port forwards made from the web may listen beyond loopback. */
  readonly allowRemoteForwards?: boolean;
  readonly log?: (line: string) => void;
}

const UPLOAD_PATH = `/${ISO_UPLOAD_ROUTE}`;

export class WebServer {
  private readonly limits: WebServerLimits;
  private readonly auth: AuthRoutes;
  private readonly control: ControlSocket;
  private readonly consoles: ConsoleProxy;
  private readonly pages: Pages;
  private readonly uploads: IsoUploads;
  private readonly server: http.Server | https.Server;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly origins = new Set<string>();
  private readonly hosts = new Set<string>();
  private readonly log: (line: string) => void;
  /** What a web console caller may touch (applied to every control call). */
  readonly policy: WebCallerPolicy;
  /** Counters the security tests and the operator can read. */
  readonly stats: ServerStats = { droppedSlowReaders: 0, oversizedClosed: 0, rejectedUpgrades: 0, rejectedRequests: 0 };

  constructor(private readonly opts: WebServerOptions) {
    checkBinding(opts.host, !!opts.tls);
    const limits = (this.limits = { ...DEFAULT_LIMITS, ...opts.limits });
    const log = (this.log = opts.log ?? ((l) => process.stderr.write(l + '\n')));
    this.auth = new AuthRoutes({
      maruHome: opts.maruHome,
      tls: !!opts.tls,
      maxSessions: limits.maxSessions,
      sessionIdleMs: limits.sessionIdleMs,
      sessionAbsoluteMs: limits.sessionAbsoluteMs,
      maxBodyBytes: limits.maxHttpBodyBytes,
      throttle: new LoginThrottle({
        freeAttempts: limits.loginFreeAttempts,
        maxConcurrentChecks: limits.maxConcurrentLoginChecks,
      }),
      log,
    });
    this.policy = new WebCallerPolicy({
      maruHome: opts.maruHome,
      isoFolders: opts.isoFolders ?? isoFoldersFromEnv(process.env),
      allowRemoteForwards: opts.allowRemoteForwards === true,
    });
    this.control = new ControlSocket({
      services: opts.services,
      policy: this.policy,
      events: opts.events,
      sessions: this.auth.sessions,
      maxMessageBytes: limits.maxControlMessageBytes,
      maxSendBufferBytes: limits.maxSendBufferBytes,
      stats: this.stats,
    });
    this.consoles = new ConsoleProxy({
      ticketMs: limits.consoleTicketMs,
      maxSendBufferBytes: limits.maxSendBufferBytes,
      maxBodyBytes: limits.maxHttpBodyBytes,
      // A running VM's RFB endpoint is what its engine reports (`vm.status`); tests may point elsewhere.
      consoleEndpoint:
        opts.consoleEndpoint ??
        (async (vmId) => (await opts.services.vm.status(vmId).catch(() => null))?.display ?? null),
      stats: this.stats,
    });
    this.pages = new Pages({
      rendererDir: opts.rendererDir,
      services: opts.services,
      pageRenderer: opts.pageRenderer ?? null,
      log,
    });
    this.uploads = new IsoUploads({
      maruHome: opts.maruHome,
      maxBytes: limits.maxIsoUploadBytes,
      maxConcurrent: limits.maxConcurrentUploads,
      idleTimeoutMs: limits.uploadIdleTimeoutMs,
      log,
    });
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.server = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : http.createServer(handler);
    // Node's own total-request limit (300 s by default) would cut every ISO upload that takes
    // longer; the server applies its own instead (onRequest), with uploads exempt.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = limits.headersTimeoutMs;
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.sweepTimer = setInterval(() => this.auth.sessions.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  /** Starts listening; resolves with the URL and, when no password is set, a one-time login token. */
  async start(): Promise<{ url: string; oneTimeToken: string | null }> {
    const oneTimeToken = await this.auth.prepare();
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
    return { url: `${scheme}://${hostPart}:${addr.port}/`, oneTimeToken };
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** ISO uploads in progress now. */
  get uploadsInProgress(): number {
    return this.uploads.inProgress;
  }

  /** Sends a change event to every open control socket. */
  broadcast(event: ControlEvent): void {
    this.control.broadcast(event);
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.auth.sessions.destroyAll('server shutting down');
    this.control.close();
    this.consoles.close();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ---------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const lift = req.complete ? () => undefined : this.limitRequestTime(req, res);
    this.handle(req, res, lift).catch((err: unknown) => this.answerError(req, res, err));
  }

  /**
   * A request body that takes longer than requestTimeoutMs to arrive is answered 408 and the
   * connection closed. Returns the function that lifts the limit: only for an accepted ISO
   * upload (signed in, a slot taken), which has its idle limit instead.
   */
  private limitRequestTime(req: IncomingMessage, res: ServerResponse): () => void {
    const timer = setTimeout(() => {
      if (req.complete) return;
      if (!res.headersSent) {
        fail(this.stats, res, 408, 'TIMEOUT', 'The request took too long to arrive.', { Connection: 'close' });
      }
      res.once('finish', () => req.socket.destroy());
      if (res.writableFinished) req.socket.destroy();
    }, this.limits.requestTimeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    res.once('close', clear);
    return clear;
  }

  /** Client errors are 4xx with their message and no stack trace; only a bug is a 500 and logged. */
  private answerError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    let status: number;
    let code: string;
    let message: string;
    let headers: Record<string, string> = {};
    if (err instanceof HttpError) {
      ({ status, code, message } = err);
      headers = { ...err.headers };
    } else if (err instanceof AppError) {
      status = statusOfAppError(err);
      ({ code, message } = err);
      if (status >= 500) this.log(`maru serve: request failed: ${err.message}`);
    } else {
      this.log(`maru serve: request failed: ${err instanceof Error ? err.stack : String(err)}`);
      const wire = toWireError(err);
      status = 500;
      code = 'INTERNAL';
      message = wire.ok ? 'Internal error.' : wire.error.message;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A refused request whose body is still coming: close rather than read the rest.
    if (!req.complete) headers = { ...headers, Connection: 'close' };
    fail(this.stats, res, status, code, message, headers);
  }

  private hostAllowed(req: IncomingMessage): boolean {
    // Host allowlist: defeats DNS rebinding (a foreign name resolving to our address).
    return this.hosts.has((req.headers.host ?? '').toLowerCase());
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return typeof origin === 'string' && origin !== 'null' && this.origins.has(origin.toLowerCase());
  }

  private async handle(req: IncomingMessage, res: ServerResponse, liftRequestTimeLimit: () => void): Promise<void> {
    securityHeaders(res, !!this.opts.tls);
    if (!this.hostAllowed(req)) {
      throw new HttpError(421, 'FORBIDDEN', 'Unknown Host header (add it with --allow-origin).');
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'METHOD', 'Method not allowed.');
      await this.pages.serve(req, res, url, this.auth.sessionOf(req));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/login') {
      if (!this.originAllowed(req)) {
        throw new HttpError(403, 'FORBIDDEN', 'Login must come from the Maru page itself (Origin check).');
      }
      await this.auth.login(req, res);
      return;
    }
    const session = this.auth.sessionOf(req);
    if (!session) throw new HttpError(401, 'UNAUTHENTICATED', 'Log in first.');
    if (req.method === 'GET' && url.pathname === '/api/library/list') {
      await this.pages.libraryList(res);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/session') {
      this.auth.sessionInfo(res, session);
      return;
    }
    if (req.method !== 'POST') {
      throw new HttpError(url.pathname === '/api/session' ? 405 : 404, 'NOT_FOUND', 'No such API route.');
    }
    // Every state-changing request: same-origin and the session's CSRF token.
    if (!this.originAllowed(req) || !this.auth.csrfOk(req, session)) {
      throw new HttpError(403, 'FORBIDDEN', 'Missing or wrong CSRF token or Origin.');
    }
    switch (url.pathname) {
      case '/api/logout':
        this.auth.logout(res, session);
        return;
      case UPLOAD_PATH:
        await this.uploads.handle(req, res, url, liftRequestTimeLimit);
        return;
      case '/api/console-ticket':
        await this.consoles.issueTicket(req, res, session);
        return;
      default:
        throw new HttpError(404, 'NOT_FOUND', 'No such API route.');
    }
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
    const session = this.auth.sessionOf(req);
    if (!session) return this.reject(socket, 401, 'Unauthorized');
    if (!this.originAllowed(req)) return this.reject(socket, 403, 'Forbidden');
    if (url.pathname === '/api/control') {
      this.control.upgrade(req, socket, head, session);
      return;
    }
    const vmId = consolePathVmId(url.pathname);
    if (vmId) {
      const ticket = url.searchParams.get('ticket') ?? '';
      if (!this.consoles.upgrade(req, socket, head, session, vmId, ticket)) this.reject(socket, 403, 'Forbidden');
      return;
    }
    this.reject(socket, 404, 'Not Found');
  }
}
