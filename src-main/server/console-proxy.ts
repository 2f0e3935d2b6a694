// VM consoles in the browser: console tickets (`POST /api/console-ticket`: 30 s, single use,
// bound to the session and one VM) and the console socket (`/api/console/<uuid>?ticket=…`)
// that carries RFB bytes between the viewer and the VM's display endpoint, with backpressure.
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { isUuid } from '../../src-shared/ids';
import { ConsoleTickets } from './console-tickets';
import { HttpError, json, type ServerStats } from './http-replies';
import { readJsonObject } from './request-body';
import type { Session } from './session-store';
import { sendBounded } from './socket-send';

export interface ConsoleProxyOptions {
  readonly ticketMs: number;
  readonly maxSendBufferBytes: number;
  readonly maxBodyBytes: number;
  /** Where the VM's engine host listens for RFB (unix socket path), or null if not running. */
  readonly consoleEndpoint?: ((vmId: string) => Promise<string | null>) | undefined;
  readonly stats: ServerStats;
}

/** The VM id of a console socket path, or null for any other path. */
export function consolePathVmId(pathname: string): string | null {
  const m = /^\/api\/console\/([0-9a-f-]{36})$/.exec(pathname);
  return m?.[1] ?? null;
}

export class ConsoleProxy {
  private readonly tickets: ConsoleTickets;
  private readonly wss: WebSocketServer;

  constructor(private readonly opts: ConsoleProxyOptions) {
    this.tickets = new ConsoleTickets(opts.ticketMs);
    // Console traffic is RFB client → server: small messages (keys, pointer, update requests).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  }

  /** POST /api/console-ticket (after the CSRF check): `{ vmId }` → a ticket for that VM's console. */
  async issueTicket(req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    const body = await readJsonObject(req, this.opts.maxBodyBytes);
    if (typeof body.vmId !== 'string' || !isUuid(body.vmId)) {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'vmId must be a VM uuid.');
    }
    const ticket = this.tickets.issue(session.id, body.vmId);
    json(res, 200, { ok: true, value: { ticket, expiresInMs: this.opts.ticketMs } });
  }

  /**
   * Takes over a console upgrade the server has already checked (session, Origin, Host) when
   * its ticket is good; false (the caller refuses the upgrade) when not.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, session: Session, vmId: string, ticket: string): boolean {
    if (!this.tickets.redeem(ticket, session.id, vmId)) return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.onOpen(ws, session, vmId));
    return true;
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private send(ws: WebSocket, chunk: Buffer): boolean {
    return sendBounded(ws, chunk, this.opts.maxSendBufferBytes, () => this.opts.stats.droppedSlowReaders++);
  }

  private async onOpen(ws: WebSocket, session: Session, vmId: string): Promise<void> {
    const sock = { close: (code: number, reason: string) => ws.close(code, reason) };
    session.sockets.add(sock);
    ws.on('close', () => session.sockets.delete(sock));
    const endpoint = this.opts.consoleEndpoint ? await this.opts.consoleEndpoint(vmId) : null;
    if (!endpoint) {
      ws.close(4404, 'VM is not running');
      return;
    }
    const max = this.opts.maxSendBufferBytes;
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
      if (ws.bufferedAmount > max / 2) {
        upstream.pause();
        const resume = setInterval(() => {
          if (ws.readyState !== ws.OPEN) {
            clearInterval(resume);
            upstream.destroy();
          } else if (ws.bufferedAmount < max / 4) {
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
