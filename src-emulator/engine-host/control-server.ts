// The engine host's control endpoint: a unix socket (named pipe on Windows) speaking
// newline-delimited JSON requests `{id, method, args}` and replies `{id, ok, value|error}`.
// Each request is validated against the contract's method table (`engineControlMethods`) and
// dispatched to an EngineControlService implementation; a streaming method (serialSubscribe)
// gets the request's stream on its connection.
import { rm } from 'node:fs/promises';
import net from 'node:net';
import {
  engineControlMethods,
  type EngineControlMessage,
  type EngineControlMethod,
  type EngineControlService,
  type EngineState,
} from '../../src-shared/contracts/engine';
import { AppError, toWireError } from '../../src-shared/errors';
import type { Disposable } from '../base/lifecycle';
import { LineDecoder, encodeLine } from '../base/line-channel';

/** Largest request line accepted (send-keys text and ISO paths are far smaller). */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** A client that reads nothing while this much is queued to it is dropped. */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/**
 * A request's stream on its connection, passed to every method after its arguments (only
 * streaming methods use it): stream messages carry the request's id and follow its reply.
 */
export interface ControlStream {
  /** Sends guest bytes (`{id, stream: 'serial', data}`); bytes sent before the reply go out right after it. */
  send(data: Uint8Array): void;
  /** Keeps `sub` until the client goes or the server closes (then `{id, stream: 'end', state}`). */
  hold(sub: Disposable): void;
}

interface Connection {
  readonly socket: net.Socket;
  readonly streams: Set<{ id: number; sub: Disposable }>;
}

type ServiceMethod = (...args: unknown[]) => Promise<unknown>;

export class ControlServer implements Disposable {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly endpoint: string,
    private readonly service: EngineControlService,
    private readonly log: (line: string) => void,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    if (process.platform !== 'win32') await rm(this.endpoint, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ path: this.endpoint, readableAll: false, writableAll: false }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (err) => this.log(`control server error: ${err.message}`));
  }

  /** Resolves once no request is being handled (or after `ms`). */
  async drain(ms: number): Promise<void> {
    if (this.inFlight === 0) return;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, ms)),
    ]);
  }

  /** Ends every serial stream with the final state, then closes all connections and the socket. */
  async close(finalState: EngineState): Promise<void> {
    for (const c of this.connections) {
      for (const s of c.streams) {
        s.sub.dispose();
        this.send(c, { id: s.id, stream: 'end', state: finalState });
      }
      c.streams.clear();
      c.socket.end();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (process.platform !== 'win32') await rm(this.endpoint, { force: true });
  }

  dispose(): void {
    for (const c of this.connections) {
      for (const s of c.streams) s.sub.dispose();
      c.socket.destroy();
    }
    this.server.close();
  }

  private accept(socket: net.Socket): void {
    const conn: Connection = { socket, streams: new Set() };
    this.connections.add(conn);
    const decoder = new LineDecoder(MAX_REQUEST_BYTES);
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = decoder.push(chunk);
      } catch (err) {
        this.send(conn, { id: 0, ok: false, error: { code: 'INVALID_ARGUMENT', message: (err as Error).message } });
        socket.end();
        return;
      }
      for (const line of lines) void this.handle(conn, line);
    });
    socket.on('error', (err) => this.log(`control client error: ${err.message}`));
    socket.on('close', () => {
      for (const s of conn.streams) s.sub.dispose();
      conn.streams.clear();
      this.connections.delete(conn);
    });
  }

  private send(conn: Connection, msg: EngineControlMessage): void {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    if (conn.socket.writableLength > MAX_QUEUED_BYTES) {
      this.log('control client is not reading: dropping it');
      conn.socket.destroy();
      return;
    }
    conn.socket.write(encodeLine(msg));
  }

  private async handle(conn: Connection, line: string): Promise<void> {
    let id = 0;
    this.inFlight++;
    try {
      let req: unknown;
      try {
        req = JSON.parse(line);
      } catch {
        throw new AppError('INVALID_ARGUMENT', 'The control message is not JSON.');
      }
      const r = req as { id?: unknown; method?: unknown; args?: unknown };
      if (typeof r.id !== 'number' || !Number.isInteger(r.id)) {
        throw new AppError('INVALID_ARGUMENT', 'The control message has no integer id.');
      }
      id = r.id;
      const method = r.method;
      if (typeof method !== 'string' || !Object.hasOwn(engineControlMethods, method)) {
        throw new AppError('INVALID_ARGUMENT', `Unknown engine control method ${JSON.stringify(method)}.`);
      }
      const schema = engineControlMethods[method as EngineControlMethod];
      const parsed = schema.safeParse(r.args ?? []);
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
        throw new AppError('INVALID_ARGUMENT', `Invalid arguments for ${method}: ${why.join('; ')}`);
      }
      const args = parsed.data as unknown[];
      const streamId = id;
      let replied = false;
      const early: Uint8Array[] = [];
      const held: { id: number; sub: Disposable }[] = [];
      const sendData = (data: Uint8Array): void =>
        this.send(conn, { id: streamId, stream: 'serial', data: Buffer.from(data).toString('base64') });
      const stream: ControlStream = {
        send: (data) => (replied ? sendData(data) : void early.push(data)),
        hold: (sub) => {
          if (conn.socket.destroyed) return sub.dispose(); // the client went meanwhile
          const entry = { id: streamId, sub };
          held.push(entry);
          conn.streams.add(entry);
        },
      };
      let value: unknown;
      try {
        value = await (this.service[method as EngineControlMethod] as ServiceMethod).call(
          this.service,
          ...args,
          stream,
        );
      } catch (err) {
        for (const h of held) {
          h.sub.dispose();
          conn.streams.delete(h);
        }
        throw err;
      }
      this.send(conn, { id, ok: true, value: value ?? null });
      replied = true;
      for (const data of early.splice(0)) sendData(data);
    } catch (err) {
      const wire = toWireError(err);
      if (!wire.ok) this.send(conn, { id, ok: false, error: { code: wire.error.code, message: wire.error.message } });
      if (!(err instanceof AppError))
        this.log(`control request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
