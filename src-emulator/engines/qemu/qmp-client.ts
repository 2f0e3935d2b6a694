// QMP client: the QEMU Machine Protocol over any byte stream (a unix socket in practice).
// One facade over an explicit connection state machine; a parser that resumes where the
// bytes ran out; typed commands with per-command timeouts; events; job tracking; reconnect.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { Emitter, type Event } from '../../base/event';
import { LineDecoder } from '../../base/line-channel';
import type { Disposable } from '../../base/lifecycle';
import type {
  QmpArgs,
  QmpCommandName,
  QmpEventMap,
  QmpEventMessage,
  QmpEventName,
  QmpGreeting,
  QmpJobCommand,
  QmpJobInfo,
  QmpReturn,
  QmpSnapshotJobArgs,
} from './qmp-types';

/** A QMP failure: QEMU's error class (`GenericError`, `CommandNotFound` …) or ours (`Timeout`, `Disconnected`, `JobFailed`, `Protocol`). */
export class QmpError extends Error {
  readonly qmpClass: string;
  readonly command: string | null;
  constructor(qmpClass: string, message: string, command: string | null = null) {
    super(message);
    this.name = 'QmpError';
    this.qmpClass = qmpClass;
    this.command = command;
  }
}

/** A message QEMU sent: the greeting, a reply (`return` / `error` with our id) or an event. */
export type QmpIncoming =
  | { readonly kind: 'greeting'; readonly greeting: QmpGreeting }
  | { readonly kind: 'return'; readonly id: unknown; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: unknown; readonly errorClass: string; readonly desc: string }
  | { readonly kind: 'event'; readonly event: QmpEventMessage };

/** Longest line accepted from QEMU (a `query-*` reply for a big machine stays far below). */
export const QMP_MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Splits a QMP byte stream into messages. QEMU ends every JSON message with CRLF; the parser
 * keeps the unfinished tail and resumes on the next chunk, so chunk boundaries never matter.
 */
export class QmpMessageParser {
  private readonly lines = new LineDecoder(QMP_MAX_LINE_BYTES, 'QMP message');

  /** Feeds bytes; returns the complete messages they finished. Throws QmpError('Protocol') on bad input. */
  push(chunk: Uint8Array): QmpIncoming[] {
    let lines: string[];
    try {
      lines = this.lines.push(chunk);
    } catch (err) {
      throw new QmpError('Protocol', (err as Error).message);
    }
    return lines.map(classify);
  }
}

function classify(line: string): QmpIncoming {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new QmpError('Protocol', `QEMU sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    throw new QmpError('Protocol', `QEMU sent a JSON value that is not an object: ${line.slice(0, 200)}`);
  }
  const m = msg as Record<string, unknown>;
  if ('QMP' in m) return { kind: 'greeting', greeting: m as unknown as QmpGreeting };
  if ('return' in m) return { kind: 'return', id: m['id'], value: m['return'] };
  if ('error' in m) {
    const e = (m['error'] ?? {}) as { class?: unknown; desc?: unknown };
    return {
      kind: 'error',
      id: m['id'],
      errorClass: typeof e.class === 'string' ? e.class : 'GenericError',
      desc: typeof e.desc === 'string' ? e.desc : 'QEMU reported an error without a description.',
    };
  }
  if (typeof m['event'] === 'string') return { kind: 'event', event: m as unknown as QmpEventMessage };
  throw new QmpError('Protocol', `QEMU sent a message Maru does not understand: ${line.slice(0, 200)}`);
}

/** Connection states and the moves between them. */
export type QmpConnectionState = 'idle' | 'connecting' | 'greeting' | 'negotiating' | 'ready' | 'closed';

const QMP_TRANSITIONS: Readonly<Record<QmpConnectionState, readonly QmpConnectionState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['greeting', 'closed'],
  greeting: ['negotiating', 'closed'],
  negotiating: ['ready', 'closed'],
  ready: ['closed'],
  closed: ['connecting'],
};

export interface QmpClientOptions {
  /** Opens a new byte stream to QEMU (called on open and on every reconnect). */
  readonly connect: () => Promise<Duplex>;
  /** Default per-command timeout (ms); 30 s. */
  readonly commandTimeoutMs?: number;
  /** Limit for the greeting + capabilities negotiation (ms); 10 s. */
  readonly handshakeTimeoutMs?: number;
}

interface PendingCommand {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A QMP session. `open()` connects, reads the greeting and negotiates capabilities; then
 * `execute` sends typed commands (each with an id and a timeout) and `onEvent` delivers
 * events. When the stream closes every pending command fails with `Disconnected`, and
 * `reconnect()` may open a new stream with the same listeners.
 */
export class QmpClient implements Disposable {
  private connState: QmpConnectionState = 'idle';
  private channel: Duplex | null = null;
  private parser = new QmpMessageParser();
  private readonly pending = new Map<number, PendingCommand>();
  private nextId = 1;
  private nextJob = 1;
  private greetingValue: QmpGreeting | null = null;
  private handshake: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | null = null;
  private closeError: Error | null = null;
  private disposed = false;
  private readonly events = new Emitter<QmpEventMessage>();
  private readonly closes = new Emitter<{ readonly error: Error | null }>();
  private readonly commandTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;

  /** Every event QEMU sends. */
  readonly onAnyEvent: Event<QmpEventMessage> = this.events.event;
  /** The stream closed (error: why, when it was not a clean end). */
  readonly onDidClose: Event<{ readonly error: Error | null }> = this.closes.event;

  constructor(private readonly options: QmpClientOptions) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  }

  /** A client for a unix socket path (see `connectUnixSocket`). */
  static forUnixSocket(socketPath: string, options: Omit<QmpClientOptions, 'connect'> = {}): QmpClient {
    return new QmpClient({ ...options, connect: () => connectUnixSocket(socketPath) });
  }

  get state(): QmpConnectionState {
    return this.connState;
  }

  /** The greeting of the current connection (QEMU version, capabilities). */
  get greeting(): QmpGreeting | null {
    return this.greetingValue;
  }

  /** Subscribes to one event by name, typed. */
  onEvent<E extends QmpEventName>(
    name: E,
    listener: (data: QmpEventMap[E], event: QmpEventMessage) => void,
  ): Disposable {
    return this.events.event((e) => {
      if (e.event === name) listener(e.data as QmpEventMap[E], e);
    });
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  async open(): Promise<QmpGreeting> {
    if (this.disposed) throw new QmpError('Disconnected', 'The QMP client was disposed.');
    if (this.connState !== 'idle' && this.connState !== 'closed') {
      throw new QmpError('Protocol', `QMP open() called while ${this.connState}.`);
    }
    this.move('connecting');
    this.parser = new QmpMessageParser();
    this.closeError = null;
    let channel: Duplex;
    try {
      channel = await this.options.connect();
    } catch (err) {
      this.move('closed');
      throw err;
    }
    if (this.disposed) {
      channel.destroy();
      throw new QmpError('Disconnected', 'The QMP client was disposed.');
    }
    this.channel = channel;
    this.move('greeting');
    const greeted = new Promise<QmpGreeting>((resolve, reject) => {
      this.handshake = { resolve, reject };
    });
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.on('error', (err: Error) => {
      this.closeError ??= err;
    });
    channel.on('close', () => this.onClose(channel));
    const timer = setTimeout(() => {
      this.fail(new QmpError('Timeout', `QEMU sent no QMP greeting within ${this.handshakeTimeoutMs} ms.`));
    }, this.handshakeTimeoutMs);
    try {
      const greeting = await greeted;
      this.move('negotiating');
      await this.send('qmp_capabilities', undefined, this.handshakeTimeoutMs);
      this.move('ready');
      return greeting;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens a new connection after the previous one closed (listeners stay). */
  async reconnect(): Promise<QmpGreeting> {
    if (this.connState !== 'closed') throw new QmpError('Protocol', `QMP reconnect() called while ${this.connState}.`);
    return this.open();
  }

  /** Sends a command and resolves with its return value; rejects with QmpError. */
  execute<C extends QmpCommandName>(
    command: C,
    ...rest: QmpArgs<C> extends undefined
      ? [args?: undefined, options?: { timeoutMs?: number }]
      : [args: QmpArgs<C>, options?: { timeoutMs?: number }]
  ): Promise<QmpReturn<C>> {
    const [args, options] = rest;
    if (this.connState !== 'ready') {
      return Promise.reject(
        new QmpError('Disconnected', `QMP is not connected (${this.connState}); cannot send ${command}.`, command),
      );
    }
    return this.send(command, args, options?.timeoutMs ?? this.commandTimeoutMs) as Promise<QmpReturn<C>>;
  }

  /**
   * Runs a job command (`snapshot-save` / `-load` / `-delete`, `block-stream` with
   * auto-dismiss off) to its end: starts it with a
   * fresh job id, waits for JOB_STATUS_CHANGE → concluded, reads `query-jobs` for an error,
   * dismisses the job, and rejects with QmpError('JobFailed') carrying QEMU's error text.
   */
  async runJob<C extends QmpJobCommand>(
    command: C,
    args: C extends 'block-stream'
      ? { device: string; 'auto-dismiss': false }
      : C extends 'snapshot-delete'
        ? Omit<QmpSnapshotJobArgs, 'job-id' | 'vmstate'>
        : Omit<QmpSnapshotJobArgs, 'job-id'>,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const jobId = `maru-${command}-${this.nextJob++}`;
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    // Subscribe before starting: QEMU may report the whole job before the command's reply.
    const concluded = this.waitForEvent(
      'JOB_STATUS_CHANGE',
      (d) => d.id === jobId && d.status === 'concluded',
      timeoutMs,
      `${command} did not finish within ${Math.round(timeoutMs / 1000)} s.`,
    );
    try {
      await (this.send(command, { ...args, 'job-id': jobId }, this.commandTimeoutMs) as Promise<unknown>);
    } catch (err) {
      concluded.cancel();
      throw err;
    }
    await concluded.promise;
    const jobs = (await this.execute('query-jobs')) as QmpJobInfo[];
    const job = jobs.find((j) => j.id === jobId);
    await this.execute('job-dismiss', { id: jobId });
    if (job?.error) throw new QmpError('JobFailed', job.error, command);
  }

  /**
   * Resolves with the data of the first `name` event passing `filter`; rejects on timeout or
   * when the connection closes. `cancel()` drops the wait.
   */
  waitForEvent<E extends QmpEventName>(
    name: E,
    filter: (data: QmpEventMap[E]) => boolean,
    timeoutMs: number,
    timeoutMessage = `No ${name} event within ${timeoutMs} ms.`,
  ): { promise: Promise<QmpEventMap[E]>; cancel: () => void } {
    let cleanup = (): void => undefined;
    const promise = new Promise<QmpEventMap[E]>((resolve, reject) => {
      const sub = this.onEvent(name, (data) => {
        if (!filter(data)) return;
        cleanup();
        resolve(data);
      });
      const closeSub = this.closes.event(({ error }) => {
        cleanup();
        reject(
          new QmpError('Disconnected', `QMP closed while waiting for ${name}${error ? `: ${error.message}` : ''}.`),
        );
      });
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpError('Timeout', timeoutMessage));
      }, timeoutMs);
      cleanup = () => {
        clearTimeout(timer);
        sub.dispose();
        closeSub.dispose();
      };
    });
    return {
      promise,
      cancel: () => {
        cleanup();
        promise.catch(() => undefined);
      },
    };
  }

  /** Closes the stream; pending commands fail with `Disconnected`. */
  close(): void {
    this.channel?.destroy();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.fail(new QmpError('Disconnected', 'The QMP client was disposed.'));
    this.events.dispose();
    this.closes.dispose();
  }

  // ---- internals

  private move(to: QmpConnectionState): void {
    if (!QMP_TRANSITIONS[this.connState].includes(to)) {
      throw new Error(`Illegal QMP connection transition ${this.connState} → ${to}.`);
    }
    this.connState = to;
  }

  private send(command: string, args: unknown, timeoutMs: number): Promise<unknown> {
    const channel = this.channel;
    if (!channel) return Promise.reject(new QmpError('Disconnected', 'QMP is not connected.', command));
    const id = this.nextId++;
    const msg = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError('Timeout', `QEMU did not answer ${command} within ${timeoutMs} ms.`, command));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      channel.write(JSON.stringify(msg) + '\n');
    });
  }

  private onData(chunk: Buffer): void {
    let messages: QmpIncoming[];
    try {
      messages = this.parser.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(m: QmpIncoming): void {
    switch (m.kind) {
      case 'greeting':
        if (this.connState === 'greeting' && this.handshake) {
          this.greetingValue = m.greeting;
          this.handshake.resolve(m.greeting);
          this.handshake = null;
        }
        return;
      case 'event':
        this.events.fire(m.event);
        return;
      case 'return':
      case 'error': {
        const id = typeof m.id === 'number' ? m.id : NaN;
        const p = this.pending.get(id);
        if (!p) return; // a reply to a command that already timed out
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (m.kind === 'return') p.resolve(m.value);
        else p.reject(new QmpError(m.errorClass, m.desc, p.command));
        return;
      }
    }
  }

  /** Ends the connection with `err` (protocol error, timeout, dispose). */
  private fail(err: Error): void {
    this.closeError ??= err;
    if (this.channel) this.channel.destroy();
    else this.rejectAll(err);
  }

  private onClose(channel: Duplex): void {
    if (channel !== this.channel) return;
    this.channel = null;
    const err = this.closeError;
    if (this.connState !== 'closed') this.move('closed');
    this.rejectAll(err ?? new QmpError('Disconnected', 'QEMU closed the QMP connection.'));
    this.closes.fire({ error: err });
  }

  private rejectAll(err: Error): void {
    if (this.handshake) {
      this.handshake.reject(err);
      this.handshake = null;
    }
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(
        err instanceof QmpError
          ? new QmpError(err.qmpClass, err.message, p.command)
          : new QmpError('Disconnected', err.message, p.command),
      );
    }
  }
}

/** Connects to a unix socket once (rejects with the socket error). */
export function connectUnixSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path: socketPath });
    const onError = (err: Error): void => {
      s.destroy();
      reject(err);
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

/**
 * Opens a QMP client on `socketPath`, retrying while the socket does not exist yet or
 * refuses (QEMU still starting) until `deadlineMs`, or until `signal` aborts (QEMU exited).
 */
export async function openQmpWhenReady(
  socketPath: string,
  options: { deadlineMs: number; signal?: AbortSignal; commandTimeoutMs?: number },
): Promise<QmpClient> {
  const until = Date.now() + options.deadlineMs;
  let lastError: unknown = null;
  for (;;) {
    if (options.signal?.aborted) {
      throw options.signal.reason instanceof Error ? options.signal.reason : new QmpError('Disconnected', 'Cancelled.');
    }
    const client = QmpClient.forUnixSocket(socketPath, { commandTimeoutMs: options.commandTimeoutMs ?? 30_000 });
    try {
      await client.open();
      return client;
    } catch (err) {
      client.dispose();
      lastError = err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
    }
    if (Date.now() >= until) {
      throw new QmpError(
        'Timeout',
        `QEMU's QMP socket ${socketPath} did not open within ${options.deadlineMs} ms (${String(
          (lastError as Error | null)?.message ?? lastError,
        )}).`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
