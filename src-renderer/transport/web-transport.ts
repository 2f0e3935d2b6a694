// The web console transport: login over HTTPS/HTTP with a session cookie and CSRF token,
// then one control WebSocket carrying the control-wire messages: calls (a job's with
// `job: true`), results, a job's progress, `cancel` when its signal aborts, and change events.
import { AppError, CancelledError, type WireResult } from '../../src-shared/errors';
import { ISO_UPLOAD_ROUTE, type IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import type { ControlEvent, ServiceName } from '../../src-shared/contracts/control';
import type { ControlClientMessage, ControlServerMessage } from '../../src-shared/contracts/control-wire';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { callMessage } from './call-message';
import type { ControlTransport, IsoImportOptions, SessionState } from './control-transport';
import { INITIAL_LIST_ELEMENT_ID, RENDERED_LANGUAGE_ATTRIBUTE } from '../../src-shared/web-console';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  job: JobOptions | undefined;
}

async function postJson(url: string, body: unknown, csrf?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', ...(csrf ? { 'X-Maru-CSRF': csrf } : {}) },
    body: JSON.stringify(body),
  });
}

async function errorOf(res: Response): Promise<AppError> {
  try {
    const body = (await res.json()) as WireResult<unknown>;
    if (!body.ok) return new AppError(body.error.code, body.error.message);
  } catch {
    // not JSON: fall through to the status line
  }
  return new AppError('INTERNAL', `${res.status} ${res.statusText}`);
}

export class WebTransport implements ControlTransport {
  readonly kind = 'web' as const;
  private csrf: string | null = null;
  private sessionCheck: Promise<unknown> = Promise.resolve();
  private ws: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(event: ControlEvent) => void>();
  private readonly disconnectListeners = new Set<(reason: string) => void>();

  /**
   * The library list the server put in the page for a signed-in user, and the language it
   * rendered the page's markup in (null: no markup). Read once: the block is removed, so a later
   * sign-in never sees stale data. Null when the page has none.
   */
  initialPage(): { list: VmListEntry[]; renderedLanguage: string | null } | null {
    const block = document.getElementById(INITIAL_LIST_ELEMENT_ID);
    if (!block) return null;
    block.remove();
    try {
      return {
        list: JSON.parse(block.textContent ?? '') as VmListEntry[],
        renderedLanguage: block.getAttribute(RENDERED_LANGUAGE_ATTRIBUTE),
      };
    } catch {
      return null;
    }
  }

  /** The library list over HTTP; null without a session. */
  async listViaHttp(): Promise<VmListEntry[] | null> {
    const res = await fetch('api/library/list', { credentials: 'same-origin' });
    if (!res.ok) return null;
    return ((await res.json()) as { value: VmListEntry[] }).value;
  }

  session(): Promise<SessionState> {
    const check = this.checkSession();
    this.sessionCheck = check;
    return check;
  }

  /** The CSRF token, once a session check that may still be running has brought it. */
  private async csrfToken(): Promise<string> {
    await this.sessionCheck.catch(() => undefined);
    return this.csrf ?? '';
  }

  private async checkSession(): Promise<SessionState> {
    const res = await fetch('api/session', { credentials: 'same-origin' });
    if (res.status === 401) return 'login-required';
    if (!res.ok) throw await errorOf(res);
    const body = (await res.json()) as { value: { csrfToken: string } };
    this.csrf = body.value.csrfToken;
    return 'authenticated';
  }

  async login(credentials: { password?: string; token?: string }): Promise<void> {
    const res = await postJson('api/login', credentials);
    if (!res.ok) throw await errorOf(res);
    const body = (await res.json()) as { value: { csrfToken: string } };
    this.csrf = body.value.csrfToken;
  }

  async logout(): Promise<void> {
    const res = await postJson('api/logout', {}, await this.csrfToken());
    this.csrf = null;
    // Our own logout is no lost connection: the socket goes without a disconnect report.
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'logout');
    if (!res.ok) throw await errorOf(res);
  }

  /** A single-use ticket for one VM's console socket. */
  async consoleTicket(vmId: string): Promise<string> {
    const res = await postJson('api/console-ticket', { vmId }, await this.csrfToken());
    if (!res.ok) throw await errorOf(res);
    return ((await res.json()) as { value: { ticket: string } }).value.ticket;
  }

  consoleUrl(vmId: string, ticket: string): string {
    const u = new URL(`api/console/${vmId}`, location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('ticket', ticket);
    return u.href;
  }

  private socket(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.opening) return this.opening;
    const u = new URL('api/control', location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(u.href);
      ws.onopen = () => {
        this.ws = ws;
        this.opening = null;
        resolve(ws);
      };
      ws.onerror = () => {
        this.opening = null;
        reject(new AppError('IO', 'Cannot reach the Maru server.'));
      };
      ws.onmessage = (e) => this.onMessage(String(e.data));
      ws.onclose = (e) => {
        // Only a socket that was this transport's open one is a lost connection (not one that
        // never opened — its caller got the error — nor one our logout closed).
        const wasCurrent = this.ws === ws;
        if (wasCurrent) this.ws = null;
        const reason = e.reason || `connection closed (${e.code})`;
        for (const p of this.pending.values()) p.reject(new AppError('IO', reason));
        this.pending.clear();
        if (wasCurrent) for (const l of this.disconnectListeners) l(reason);
      };
    });
    return this.opening;
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text) as ControlServerMessage;
    if (msg.type === 'event') {
      for (const l of this.eventListeners) l(msg.event);
    } else if (msg.type === 'progress') {
      this.pending.get(msg.id)?.job?.onProgress?.({
        phase: msg.phase,
        fraction: msg.fraction,
        ...(msg.data !== undefined ? { data: msg.data } : {}),
      });
    } else if (msg.type === 'result') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.result.ok) p.resolve(msg.result.value);
      else p.reject(new AppError(msg.result.error.code, msg.result.error.message, msg.result.error.details));
    }
  }

  /**
   * One call of the control contract. A job (`job` given) is marked on the wire; its progress
   * messages go to `job.onProgress`, and aborting `job.signal` sends `cancel` — the server stops
   * the job and the call rejects with its CANCELLED error.
   */
  async call(service: ServiceName, method: string, args: readonly unknown[], job?: JobOptions): Promise<unknown> {
    if (job?.signal?.aborted) throw new CancelledError(`${service}.${method} was cancelled before it started.`);
    const ws = await this.socket();
    const id = this.nextId++;
    const message = callMessage(id, service, method, args, job);
    const signal = job?.signal;
    const cancel = () => this.send(ws, { type: 'cancel', id });
    try {
      return await new Promise<unknown>((resolve, reject) => {
        if (ws.readyState !== WebSocket.OPEN) {
          reject(new AppError('IO', 'The connection to the Maru server closed: try again.'));
          return;
        }
        this.pending.set(id, { resolve, reject, job });
        signal?.addEventListener('abort', cancel, { once: true });
        this.send(ws, message);
      });
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  private send(ws: WebSocket, message: ControlClientMessage): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  /** Streams the file to the upload route (XHR: fetch has no upload progress); abort cancels it. */
  async importIso(file: File, options?: IsoImportOptions): Promise<IsoUploadResult> {
    const csrf = await this.csrfToken();
    return new Promise<IsoUploadResult>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${ISO_UPLOAD_ROUTE}?name=${encodeURIComponent(file.name)}`);
      xhr.withCredentials = true;
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.setRequestHeader('X-Maru-CSRF', csrf);
      xhr.responseType = 'text';
      xhr.upload.onprogress = (e) => options?.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body: WireResult<IsoUploadResult> | null = null;
        try {
          body = JSON.parse(xhr.responseText) as WireResult<IsoUploadResult>;
        } catch {
          // not JSON: reported with the status below
        }
        if (body?.ok) resolve(body.value);
        else if (body && !body.ok) reject(new AppError(body.error.code, body.error.message));
        else reject(new AppError('IO', `Upload failed: ${xhr.status} ${xhr.statusText}`));
      };
      xhr.onerror = () => reject(new AppError('IO', 'The upload was interrupted (connection lost).'));
      xhr.onabort = () => reject(new CancelledError('Upload cancelled.'));
      if (options?.signal?.aborted) {
        reject(new CancelledError('Upload cancelled.'));
        return;
      }
      options?.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  /** Change events the server pushes; subscribing opens the socket so they start to flow. */
  onEvent(listener: (event: ControlEvent) => void): () => void {
    this.eventListeners.add(listener);
    void this.socket().catch(() => undefined);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  onDisconnect(listener: (reason: string) => void): () => void {
    this.disconnectListeners.add(listener);
    return () => {
      this.disconnectListeners.delete(listener);
    };
  }
}
