// The web console's control socket (`/api/control`, after web-server.ts's session and Origin
// checks): JSON calls of the control contract, with progress and cancel for long jobs, the
// web caller policy applied to every call, and change events to every open socket.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  dispatchControl,
  isJobMethod,
  type ControlEvent,
  type ControlEventSource,
  type ControlServices,
} from '../../src-shared/contracts/control';
import type { ControlClientMessage, ControlServerMessage } from '../../src-shared/contracts/control-wire';
import type { CallerPolicy } from '../../src-shared/contracts/access';
import { toWireError, type WireResult } from '../../src-shared/errors';
import type { ServerStats } from './http-replies';
import type { Session, SessionStore } from './session-store';
import { sendBounded } from './socket-send';

export interface ControlSocketOptions {
  readonly services: ControlServices;
  /** What a web console caller may touch (web-caller-policy.ts). */
  readonly policy: CallerPolicy;
  /** The services' change events, sent to every open socket. */
  readonly events?: ControlEventSource | undefined;
  readonly sessions: SessionStore;
  /** Largest control message accepted; a bigger one closes the socket (1009). */
  readonly maxMessageBytes: number;
  readonly maxSendBufferBytes: number;
  readonly stats: ServerStats;
}

export class ControlSocket {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: ControlSocketOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes });
    this.unsubscribe = opts.events ? opts.events.onEvent((e) => this.broadcast(e)) : () => undefined;
  }

  /** Takes over an upgrade the server has already checked (session, Origin, Host). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, session: Session): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, session));
  }

  /** Sends a change event to every open control socket. */
  broadcast(event: ControlEvent): void {
    for (const ws of this.sockets) this.send(ws, { type: 'event', event });
  }

  close(): void {
    this.unsubscribe();
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
  }

  private send(ws: WebSocket, msg: ControlServerMessage): void {
    sendBounded(ws, JSON.stringify(msg), this.opts.maxSendBufferBytes, () => this.opts.stats.droppedSlowReaders++);
  }

  private onOpen(ws: WebSocket, session: Session): void {
    const sock = { close: (code: number, reason: string) => ws.close(code, reason) };
    session.sockets.add(sock);
    this.sockets.add(ws);
    const jobs = new Map<number, AbortController>();
    ws.on('close', (code) => {
      if (code === 1009) this.opts.stats.oversizedClosed++;
      session.sockets.delete(sock);
      this.sockets.delete(ws);
      for (const c of jobs.values()) c.abort();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.close(1003, 'text frames only');
        return;
      }
      if (!this.opts.sessions.get(session.id)) {
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
    let controller: AbortController | undefined;
    if (isJobMethod(msg.service, msg.method)) {
      controller = new AbortController();
      jobs.set(msg.id, controller);
    }
    let result: WireResult<unknown>;
    try {
      const value = await dispatchControl(
        this.opts.services,
        { service: msg.service, method: msg.method, args: msg.args },
        {
          policy: this.opts.policy,
          ...(controller
            ? {
                job: {
                  signal: controller.signal,
                  onProgress: (p) =>
                    this.send(ws, {
                      type: 'progress',
                      id: msg.id,
                      phase: p.phase,
                      fraction: p.fraction,
                      ...(p.data !== undefined ? { data: p.data } : {}),
                    }),
                },
              }
            : {}),
        },
      );
      result = { ok: true as const, value };
    } catch (err) {
      result = toWireError(err);
    } finally {
      if (controller) jobs.delete(msg.id);
    }
    this.send(ws, { type: 'result', id: msg.id, result });
  }
}
