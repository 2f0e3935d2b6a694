// An RFB server over one framebuffer source: listens on a unix socket (or loopback TCP, for
// viewers that only speak TCP), and accepts any other byte channel through `attach`.
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Disposable } from '../base/lifecycle';
import { AppError } from '../../src-shared/errors';
import type { FramebufferSource } from './framebuffer';
import { RfbServerConnection, type RfbInputSink, type RfbTransport } from './rfb-connection';

export interface RfbServerOptions {
  readonly source: FramebufferSource;
  readonly input: RfbInputSink;
  /** Shown by viewers as the desktop's name. */
  readonly desktopName: string;
  /** Viewers served at once; more are refused. Default 16. */
  readonly maxConnections?: number;
  readonly log?: (message: string) => void;
}

/** Where the server listens. */
export type RfbListenAddress = { readonly path: string } | { readonly host: string; readonly port: number };

/** A net.Socket as an RFB transport: writes corked together, `done` once the last one is flushed. */
export function socketTransport(socket: net.Socket): RfbTransport {
  return {
    write(chunks, done) {
      if (socket.destroyed || !socket.writable) {
        done(new Error('socket closed'));
        return;
      }
      socket.cork();
      for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i]!);
      const last = chunks[chunks.length - 1];
      socket.write(last ?? new Uint8Array(0), (err) => done(err ?? undefined));
      socket.uncork();
    },
    close() {
      // Flush what is queued (a failure reason, say), then let go of the socket.
      socket.end(() => socket.destroy());
    },
  };
}

/** Serves the framebuffer to every viewer that connects. */
export class RfbServer implements Disposable {
  private server: net.Server | undefined;
  private socketPath: string | undefined;
  private readonly connections = new Set<RfbServerConnection>();
  private readonly sockets = new Set<net.Socket>();
  private disposed = false;

  constructor(private readonly opts: RfbServerOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; resolves with the address actually bound (the port when 0 was asked). */
  async listen(address: RfbListenAddress): Promise<RfbListenAddress> {
    if (this.server) throw new Error('RfbServer.listen called twice');
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    if ('path' in address) {
      removeStaleSocket(address.path);
      this.socketPath = address.path;
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new AppError(
            'IO',
            `Cannot open the display socket ${'path' in address ? address.path : `${address.host}:${address.port}`}: ` +
              `${err.message}. Check that the folder exists and is writable.`,
          ),
        );
      };
      server.once('error', onError);
      const ready = (): void => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.log?.(`rfb: server error: ${err.message}`));
        resolve();
      };
      if ('path' in address) server.listen(address.path, ready);
      else server.listen(address.port, address.host, ready);
    });
    if ('path' in address) return address;
    const bound = server.address() as net.AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  /** Serves a connected socket. */
  accept(socket: net.Socket): void {
    if (this.disposed || this.connections.size >= (this.opts.maxConnections ?? 16)) {
      this.opts.log?.('rfb: viewer refused (too many viewers)');
      socket.destroy();
      return;
    }
    socket.setNoDelay?.(true);
    this.sockets.add(socket);
    const conn = this.attach(socketTransport(socket));
    socket.on('data', (b: Buffer) => conn.receive(b));
    socket.on('error', (err) => this.opts.log?.(`rfb: viewer socket error: ${err.message}`));
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.peerClosed();
    });
  }

  /** Serves a viewer over any byte channel; feed its bytes to the returned connection's `receive`. */
  attach(transport: RfbTransport): RfbServerConnection {
    const conn: RfbServerConnection = new RfbServerConnection({
      source: this.opts.source,
      input: this.opts.input,
      transport,
      desktopName: this.opts.desktopName,
      onClose: (reason) => {
        this.connections.delete(conn);
        if (reason) this.opts.log?.(`rfb: viewer dropped: ${reason}`);
      },
    });
    this.connections.add(conn);
    return conn;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of [...this.connections]) c.dispose();
    for (const s of this.sockets) s.destroy();
    this.server?.close();
    if (this.socketPath) {
      try {
        removeStaleSocket(this.socketPath);
      } catch (err) {
        this.opts.log?.(`rfb: could not remove ${this.socketPath}: ${(err as Error).message}`);
      }
    }
  }
}

/** Removes a socket file left by an earlier run; refuses to remove anything that is not a socket. */
function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) {
    throw new AppError('IO', `${path} exists and is not a socket; move it away so the display socket can be created.`);
  }
  unlinkSync(path);
}
