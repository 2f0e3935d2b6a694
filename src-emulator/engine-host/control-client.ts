// A client for an engine host's control endpoint (CLI, web console, desktop): typed calls
// with timeouts, errors rethrown as AppError, and the serial stream.
import net from 'node:net';
import type {
  EngineControlMessage,
  EngineControlService,
  EngineState,
  EngineStatus,
  LiveSnapshotState,
  ScreenshotWire,
  StopMode,
  StopResult,
} from '../../src-shared/contracts/engine';
import { AppError, type ErrorCode } from '../../src-shared/errors';
import type { PortForward } from '../../src-shared/vm-config';
import type { Disposable } from '../base/lifecycle';
import { LineDecoder, encodeLine } from '../base/line-channel';

/** Replies may carry a screenshot: allow large lines. */
const MAX_REPLY_BYTES = 256 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;

interface Pending {
  readonly method: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout | null;
}

interface Stream {
  readonly onData: (data: Uint8Array) => void;
  readonly onEnd: (state: EngineState | null) => void;
}

export class EngineHostClient implements Disposable, EngineControlService {
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  private closed = false;
  private readonly decoder = new LineDecoder(MAX_REPLY_BYTES);

  private constructor(
    private readonly socket: net.Socket,
    private readonly endpoint: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = this.decoder.push(chunk);
      } catch (err) {
        this.shutdown(err as Error);
        return;
      }
      for (const l of lines) this.onMessage(l);
    });
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(null));
  }

  /** Connects to the control endpoint; AppError('NOT_FOUND') when nothing listens there. */
  static connect(endpoint: string, options: { timeoutMs?: number } = {}): Promise<EngineHostClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: endpoint });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new AppError(
            'IO',
            `The engine host at ${endpoint} did not accept a connection within ${options.timeoutMs ?? 5000} ms.`,
          ),
        );
      }, options.timeoutMs ?? 5000);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(new AppError('NOT_FOUND', `No engine host listens on ${endpoint} (the VM is not running).`));
        } else reject(new AppError('IO', `Cannot connect to the engine host at ${endpoint}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new EngineHostClient(socket, endpoint));
      });
    });
  }

  /** Sends one request; `timeoutMs` 0 waits forever. */
  call<T>(method: string, args: unknown[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    if (this.closed)
      return Promise.reject(new AppError('IO', `The connection to the engine host at ${this.endpoint} is closed.`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(
                new AppError(
                  'IO',
                  `The engine host did not answer ${method} within ${Math.round(timeoutMs / 1000)} s.`,
                ),
              );
            }, timeoutMs)
          : null;
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encodeLine({ id, method, args }));
    });
  }

  status(): Promise<EngineStatus> {
    return this.call('status', [], 10_000);
  }
  stop(options: { mode: StopMode; timeoutMs?: number | undefined }): Promise<StopResult> {
    // The host waits up to the ACPI timeout and then forces: wait longer than that.
    const wait = options.mode === 'acpi' ? (options.timeoutMs ?? 5 * 60_000) + 60_000 : 60_000;
    return this.call('stop', [options.timeoutMs === undefined ? { mode: options.mode } : options], wait);
  }
  pause(): Promise<EngineStatus> {
    return this.call('pause', []);
  }
  resume(): Promise<EngineStatus> {
    return this.call('resume', []);
  }
  reset(): Promise<EngineStatus> {
    return this.call('reset', []);
  }
  saveState(): Promise<StopResult> {
    return this.call('saveState', [], 30 * 60_000);
  }
  snapshotTake(options: { tag: string; stateFile: string }): Promise<LiveSnapshotState> {
    return this.call('snapshotTake', [options], 30 * 60_000);
  }
  snapshotRestore(options: { tag: string; stateFile: string }): Promise<EngineStatus> {
    return this.call('snapshotRestore', [options], 30 * 60_000);
  }
  snapshotDelete(options: { tag: string }): Promise<void> {
    return this.call('snapshotDelete', [options], 30 * 60_000);
  }
  flattenDisks(): Promise<void> {
    return this.call('flattenDisks', [], 0);
  }
  attachIso(isoPath: string): Promise<EngineStatus> {
    return this.call('attachIso', [isoPath]);
  }
  eject(): Promise<EngineStatus> {
    return this.call('eject', []);
  }
  changeMedium(drive: string, medium: string | null): Promise<EngineStatus> {
    return this.call('changeMedium', [drive, medium]);
  }
  setLinkState(nicIndex: number, connected: boolean): Promise<void> {
    return this.call('setLinkState', [nicIndex, connected]);
  }
  addPortForward(nicIndex: number, rule: PortForward): Promise<void> {
    return this.call('addPortForward', [nicIndex, rule]);
  }
  removePortForward(nicIndex: number, rule: PortForward): Promise<void> {
    return this.call('removePortForward', [nicIndex, rule]);
  }
  screenshot(): Promise<ScreenshotWire> {
    return this.call('screenshot', []);
  }
  sendKeys(text: string): Promise<void> {
    return this.call('sendKeys', [text], 10 * 60_000);
  }
  sendCombo(keys: readonly string[]): Promise<void> {
    return this.call('sendCombo', [keys]);
  }
  serialWrite(text: string): Promise<void> {
    return this.call('serialWrite', [text]);
  }
  serialSubscribe(options: { history: boolean }): Promise<{ subscribed: true }> {
    return this.call('serialSubscribe', [options]);
  }

  /**
   * Streams the guest's serial output to `onData` until the VM ends (`onEnd(state)`) or the
   * connection drops (`onEnd(null)`). With `history`, recent output comes first.
   */
  async followSerial(
    history: boolean,
    onData: (data: Uint8Array) => void,
    onEnd: (state: EngineState | null) => void,
  ): Promise<void> {
    const id = this.nextId; // the subscription's replies and stream messages share its request id
    this.streams.set(id, { onData, onEnd });
    try {
      await this.serialSubscribe({ history });
    } catch (err) {
      this.streams.delete(id);
      throw err;
    }
  }

  private onMessage(line: string): void {
    let msg: EngineControlMessage;
    try {
      msg = JSON.parse(line) as EngineControlMessage;
    } catch {
      this.shutdown(new Error('The engine host sent a line that is not JSON.'));
      return;
    }
    if ('stream' in msg) {
      const s = this.streams.get(msg.id);
      if (!s) return;
      if (msg.stream === 'serial') s.onData(new Uint8Array(Buffer.from(msg.data, 'base64')));
      else {
        this.streams.delete(msg.id);
        s.onEnd(msg.state);
      }
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new AppError(msg.error.code as ErrorCode, msg.error.message));
  }

  private shutdown(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(
        new AppError(
          'IO',
          `The engine host closed the connection before answering ${p.method}${err ? ` (${err.message})` : ''}: the VM may have stopped.`,
        ),
      );
    }
    this.pending.clear();
    for (const [, s] of this.streams) s.onEnd(null);
    this.streams.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  dispose(): void {
    this.shutdown(null);
  }
}
