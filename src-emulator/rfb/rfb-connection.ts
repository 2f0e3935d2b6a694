// One viewer of an RFB 3.8 server (RFC 6143; 3.3 and 3.7 viewers too): handshake with
// security None, client messages parsed where the bytes ran out, framebuffer updates of
// damaged rectangles (raw or zlib) with one update in flight, resize and key/pointer input.
import type { Disposable } from '../base/lifecycle';
import { AppError } from '../../src-shared/errors';
import { ByteQueue } from './byte-queue';
import { DamageRegion, intersectRect, type FramebufferSource, type Rect } from './framebuffer';
import {
  NATIVE_PIXEL_FORMAT,
  PIXEL_FORMAT_BYTES,
  convertRect,
  decodePixelFormat,
  encodePixelFormat,
  pixelFormatProblem,
  type PixelFormat,
} from './pixel-format';
import { ZlibStream } from './rfb-zlib';
import { keysymToQnum } from './xt-keycodes';

/** Encodings and pseudo-encodings this server knows (RFC 6143 §7.7, §7.8; QEMU's extensions). */
export const RfbEncoding = {
  raw: 0,
  zlib: 6,
  desktopSize: -223,
  extendedDesktopSize: -308,
  qemuExtendedKeyEvent: -258,
  /** -256 … -247: compression level 0 … 9. */
  compressLevel0: -256,
  compressLevel9: -247,
} as const;

/** Client-to-server message types (RFC 6143 §7.5; 251 and 255 from the community registry). */
const ClientMessage = {
  setPixelFormat: 0,
  setEncodings: 2,
  framebufferUpdateRequest: 3,
  keyEvent: 4,
  pointerEvent: 5,
  clientCutText: 6,
  setDesktopSize: 251,
  qemu: 255,
} as const;

/** Connection states, and the transitions between them. */
export type RfbConnectionState = 'version' | 'security' | 'init' | 'normal' | 'closed';

export const RFB_CONNECTION_TRANSITIONS: Readonly<Record<RfbConnectionState, readonly RfbConnectionState[]>> = {
  version: ['security', 'init', 'closed'],
  security: ['init', 'closed'],
  init: ['normal', 'closed'],
  normal: ['closed'],
  closed: [],
};

/** A byte channel to one viewer. `done` runs once `chunks` have been handed to the OS (or failed). */
export interface RfbTransport {
  write(chunks: readonly Uint8Array[], done: (err?: Error) => void): void;
  close(): void;
}

/** A key press or release: the X11 keysym, and the XT key number when known (QEMU extended key event, or mapped from the keysym on a US layout). */
export interface RfbKeyEvent {
  readonly down: boolean;
  readonly keysym: number;
  readonly qnum: number | undefined;
}

/**
 * The pointer at (x, y) with buttons held: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down,
 * 5/6 wheel left/right. x and y are as the viewer sent them (0–65535), not clamped to the
 * screen: a viewer showing the screen stays on it, while Maru's display view holding pointer
 * lock sends its own position off the screen, moved only by the mouse's motion (a relative
 * sink takes differences, see engines/v86/ps2-input.ts).
 */
export interface RfbPointerEvent {
  readonly x: number;
  readonly y: number;
  readonly buttons: number;
}

/** Where viewers' input goes. */
export interface RfbInputSink {
  key(event: RfbKeyEvent): void;
  pointer(event: RfbPointerEvent): void;
}

export interface RfbConnectionOptions {
  readonly source: FramebufferSource;
  readonly input: RfbInputSink;
  readonly transport: RfbTransport;
  readonly desktopName: string;
  /** Damage rectangles kept per viewer before they are merged (bounds memory). Default 32. */
  readonly maxDamageRects?: number;
  /** zlib level when the viewer names none. Default 1 (fast: updates are latency-bound). */
  readonly zlibLevel?: number;
  /** Called once when the connection ends, with why (undefined for an orderly close). */
  readonly onClose?: (reason: string | undefined) => void;
}

const VERSION_38 = 'RFB 003.008\n';
const SECURITY_NONE = 1;
const MAX_SET_ENCODINGS = 1024;

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function rectHeader(x: number, y: number, w: number, h: number, encoding: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint16(0, x);
  v.setUint16(2, y);
  v.setUint16(4, w);
  v.setUint16(6, h);
  v.setInt32(8, encoding);
  return b;
}

/** ExtendedDesktopSize rectangle: x = reason, y = status, one screen covering the framebuffer. */
function extendedDesktopSizeRect(reason: number, status: number, width: number, height: number): Uint8Array {
  const b = new Uint8Array(12 + 4 + 16);
  b.set(rectHeader(reason, status, width, height, RfbEncoding.extendedDesktopSize), 0);
  const v = new DataView(b.buffer);
  v.setUint8(12, 1); // number of screens, then 3 bytes padding
  // screen: id u32, x u16, y u16, width u16, height u16, flags u32
  v.setUint32(16, 0);
  v.setUint16(20, 0);
  v.setUint16(22, 0);
  v.setUint16(24, width);
  v.setUint16(26, height);
  v.setUint32(28, 0);
  return b;
}

type Negotiated = '3.3' | '3.7' | '3.8';

/**
 * One viewer. Feed received bytes to `receive`; the connection writes through its transport.
 * Updates answer FramebufferUpdateRequests only: at most one is being encoded or written at
 * a time, and damage that arrives meanwhile is merged into the next one (latest pixels win).
 */
export class RfbServerConnection implements Disposable {
  private stateValue: RfbConnectionState = 'version';
  private readonly queue = new ByteQueue();
  private readonly damage: DamageRegion;
  private readonly subscriptions: Disposable[] = [];
  private version: Negotiated = '3.8';
  private pixelFormat: PixelFormat = NATIVE_PIXEL_FORMAT;
  private encodings = new Set<number>();
  private preferredEncoding: number = RfbEncoding.raw;
  private zlibLevel: number;
  private zlib: ZlibStream | undefined;
  /** The framebuffer size the viewer knows. */
  private clientWidth: number;
  private clientHeight: number;
  /** Area of the outstanding FramebufferUpdateRequest(s), if any. */
  private requested: Rect | undefined;
  private inFlight = false;
  private sendScheduled = false;
  private skipBytes = 0;
  private announceExtendedDesktopSize = false;
  private announceQemuKeys = false;
  private pendingResizeReply: { status: number } | undefined;
  private closeReason: string | undefined;

  constructor(private readonly opts: RfbConnectionOptions) {
    this.damage = new DamageRegion(opts.maxDamageRects ?? 32);
    this.zlibLevel = opts.zlibLevel ?? 1;
    this.clientWidth = opts.source.width;
    this.clientHeight = opts.source.height;
    this.subscriptions.push(
      opts.source.onDidDamage((rects) => {
        this.damage.addAll(rects);
        this.scheduleSend();
      }),
      opts.source.onDidResize(() => this.scheduleSend()),
    );
    this.write([new TextEncoder().encode(VERSION_38)]);
  }

  get state(): RfbConnectionState {
    return this.stateValue;
  }

  /** Why the connection failed, once it has. */
  get failure(): string | undefined {
    return this.closeReason;
  }

  private isOpen(): boolean {
    return this.stateValue !== 'closed';
  }

  /** Bytes from the viewer. */
  receive(bytes: Uint8Array): void {
    if (this.stateValue === 'closed') return;
    this.queue.push(bytes);
    try {
      while (this.isOpen() && this.step()) {
        // each step consumed one message
      }
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err));
    }
  }

  /** The viewer went away (socket closed). */
  peerClosed(): void {
    this.close(undefined);
  }

  dispose(): void {
    this.close(undefined);
  }

  private setState(to: RfbConnectionState): void {
    if (!RFB_CONNECTION_TRANSITIONS[this.stateValue].includes(to)) {
      throw new Error(`Illegal RFB connection transition ${this.stateValue} → ${to}.`);
    }
    this.stateValue = to;
  }

  /** The one failure path: note why, close the channel, release everything. */
  private fail(reason: string): void {
    if (this.stateValue === 'closed') return;
    this.close(reason);
  }

  private close(reason: string | undefined): void {
    if (this.stateValue === 'closed') return;
    this.closeReason = reason;
    this.setState('closed');
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.zlib?.dispose();
    this.queue.clear();
    this.damage.clear();
    try {
      this.opts.transport.close();
    } finally {
      this.opts.onClose?.(reason);
    }
  }

  private write(chunks: readonly Uint8Array[], done?: () => void): void {
    this.opts.transport.write(chunks, (err) => {
      if (err) this.fail(`write failed: ${err.message}`);
      else done?.();
    });
  }

  /** Parses one message if all of it has arrived; false when more bytes are needed. */
  private step(): boolean {
    switch (this.stateValue) {
      case 'version':
        return this.readVersion();
      case 'security':
        return this.readSecurity();
      case 'init':
        return this.readClientInit();
      case 'normal':
        return this.readClientMessage();
      case 'closed':
        return false;
    }
  }

  // ---- handshake (RFC 6143 §7.1, §7.3)

  private readVersion(): boolean {
    if (this.queue.length < 12) return false;
    const text = new TextDecoder('latin1').decode(this.queue.read(12));
    const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(text);
    if (!m || Number(m[1]) !== 3) {
      this.fail(`the peer is not an RFB 3.x viewer (it sent ${JSON.stringify(text)})`);
      return false;
    }
    const minor = Number(m[2]);
    // §7.1.1: 3.8 and later (Apple's 3.889) speak 3.8; 3.7 as itself; anything else as 3.3.
    this.version = minor >= 8 ? '3.8' : minor === 7 ? '3.7' : '3.3';
    if (this.version === '3.3') {
      this.write([u32(SECURITY_NONE)]); // the server picks the security type (§7.1.2, 3.3)
      this.setState('init');
    } else {
      this.write([Uint8Array.of(1, SECURITY_NONE)]);
      this.setState('security');
    }
    return true;
  }

  private readSecurity(): boolean {
    if (this.queue.length < 1) return false;
    const type = this.queue.read(1)[0]!;
    if (type !== SECURITY_NONE) {
      const reason = `security type ${type} is not offered; this server offers None (1) only`;
      if (this.version === '3.8') {
        const r = new TextEncoder().encode(reason);
        this.write([u32(1), u32(r.length), r]);
      }
      this.fail(reason);
      return false;
    }
    if (this.version === '3.8') this.write([u32(0)]); // SecurityResult OK (§7.1.3)
    this.setState('init');
    return true;
  }

  private readClientInit(): boolean {
    if (this.queue.length < 1) return false;
    this.queue.skip(1); // shared-flag: every viewer shares the screen
    const name = new TextEncoder().encode(this.opts.desktopName);
    const { width, height } = this.opts.source;
    this.clientWidth = width;
    this.clientHeight = height;
    this.write([u16(width), u16(height), encodePixelFormat(this.pixelFormat), u32(name.length), name]);
    this.setState('normal');
    return true;
  }

  // ---- client messages (RFC 6143 §7.5)

  private readClientMessage(): boolean {
    const q = this.queue;
    if (this.skipBytes > 0) {
      this.skipBytes -= q.skip(this.skipBytes);
      return this.skipBytes === 0 && q.length > 0;
    }
    if (q.length < 1) return false;
    const type = q.peekU8(0);
    switch (type) {
      case ClientMessage.setPixelFormat: {
        if (q.length < 4 + PIXEL_FORMAT_BYTES) return false;
        const m = q.read(4 + PIXEL_FORMAT_BYTES);
        this.setPixelFormat(decodePixelFormat(m, 4));
        return true;
      }
      case ClientMessage.setEncodings: {
        if (q.length < 4) return false;
        const count = (q.peekU8(2) << 8) | q.peekU8(3);
        if (count > MAX_SET_ENCODINGS) {
          this.fail(`SetEncodings lists ${count} encodings (at most ${MAX_SET_ENCODINGS} are accepted)`);
          return false;
        }
        if (q.length < 4 + 4 * count) return false;
        const m = q.read(4 + 4 * count);
        const v = new DataView(m.buffer, m.byteOffset, m.length);
        const list: number[] = [];
        for (let i = 0; i < count; i++) list.push(v.getInt32(4 + 4 * i));
        this.setEncodings(list);
        return true;
      }
      case ClientMessage.framebufferUpdateRequest: {
        if (q.length < 10) return false;
        const m = q.read(10);
        const v = new DataView(m.buffer, m.byteOffset, m.length);
        this.updateRequest(v.getUint8(1) !== 0, {
          x: v.getUint16(2),
          y: v.getUint16(4),
          width: v.getUint16(6),
          height: v.getUint16(8),
        });
        return true;
      }
      case ClientMessage.keyEvent: {
        if (q.length < 8) return false;
        const m = q.read(8);
        const v = new DataView(m.buffer, m.byteOffset, m.length);
        const keysym = v.getUint32(4);
        this.opts.input.key({ down: v.getUint8(1) !== 0, keysym, qnum: keysymToQnum(keysym) });
        return true;
      }
      case ClientMessage.pointerEvent: {
        if (q.length < 6) return false;
        const m = q.read(6);
        const v = new DataView(m.buffer, m.byteOffset, m.length);
        this.opts.input.pointer({ buttons: v.getUint8(1), x: v.getUint16(2), y: v.getUint16(4) });
        return true;
      }
      case ClientMessage.clientCutText: {
        if (q.length < 8) return false;
        const m = q.read(8);
        // Ignored: skipped as it streams in, never buffered. A negative length is the
        // extended-clipboard form; its payload is |length| bytes.
        const length = new DataView(m.buffer, m.byteOffset, m.length).getInt32(4);
        this.skipBytes = Math.abs(length);
        return q.length > 0 || this.skipBytes === 0;
      }
      case ClientMessage.setDesktopSize: {
        if (q.length < 8) return false;
        const screens = q.peekU8(6);
        if (q.length < 8 + 16 * screens) return false;
        q.skip(8 + 16 * screens);
        // The guest decides its resolution: answer "administratively prohibited" (status 1).
        this.pendingResizeReply = { status: 1 };
        this.scheduleSend();
        return true;
      }
      case ClientMessage.qemu: {
        if (q.length < 2) return false;
        const subtype = q.peekU8(1);
        if (subtype === 0) {
          if (q.length < 12) return false;
          const m = q.read(12);
          const v = new DataView(m.buffer, m.byteOffset, m.length);
          const keysym = v.getUint32(4);
          const keycode = v.getUint32(8);
          this.opts.input.key({
            down: v.getUint16(2) !== 0,
            keysym,
            qnum: keycode !== 0 ? keycode : keysymToQnum(keysym),
          });
          return true;
        }
        if (subtype === 1) {
          // QEMU audio: 4 bytes, or 10 for "set format" (operation 2). Not offered; ignored.
          if (q.length < 4) return false;
          const op = (q.peekU8(2) << 8) | q.peekU8(3);
          const len = op === 2 ? 10 : 4;
          if (q.length < len) return false;
          q.skip(len);
          return true;
        }
        this.fail(`unknown QEMU client message subtype ${subtype}`);
        return false;
      }
      default:
        // Messages carry no length: an unknown one leaves the stream unreadable.
        this.fail(`unknown client message type ${type}`);
        return false;
    }
  }

  private setPixelFormat(pf: PixelFormat): void {
    const problem = pixelFormatProblem(pf);
    if (problem) throw new AppError('UNSUPPORTED', `SetPixelFormat asks for ${problem}`);
    this.pixelFormat = pf;
  }

  private setEncodings(list: readonly number[]): void {
    this.encodings = new Set(list);
    // The first pixel encoding the viewer lists that this server produces; raw is always allowed.
    this.preferredEncoding = list.find((e) => e === RfbEncoding.raw || e === RfbEncoding.zlib) ?? RfbEncoding.raw;
    const level = list.find((e) => e >= RfbEncoding.compressLevel0 && e <= RfbEncoding.compressLevel9);
    if (level !== undefined && !this.zlib) this.zlibLevel = level - RfbEncoding.compressLevel0;
    if (this.encodings.has(RfbEncoding.extendedDesktopSize)) this.announceExtendedDesktopSize = true;
    if (this.encodings.has(RfbEncoding.qemuExtendedKeyEvent)) this.announceQemuKeys = true;
  }

  private updateRequest(incremental: boolean, area: Rect): void {
    if (!incremental) this.damage.add(area);
    const r = this.requested;
    this.requested = r
      ? {
          x: Math.min(r.x, area.x),
          y: Math.min(r.y, area.y),
          width: Math.max(r.x + r.width, area.x + area.width) - Math.min(r.x, area.x),
          height: Math.max(r.y + r.height, area.y + area.height) - Math.min(r.y, area.y),
        }
      : area;
    this.trySend();
  }

  // ---- framebuffer updates (RFC 6143 §7.6.1)

  private scheduleSend(): void {
    if (this.sendScheduled || this.stateValue !== 'normal') return;
    this.sendScheduled = true;
    queueMicrotask(() => {
      this.sendScheduled = false;
      this.trySend();
    });
  }

  private get canResize(): boolean {
    return this.encodings.has(RfbEncoding.extendedDesktopSize) || this.encodings.has(RfbEncoding.desktopSize);
  }

  private trySend(): void {
    if (this.stateValue !== 'normal' || this.inFlight || !this.requested) return;
    const source = this.opts.source;
    this.inFlight = true; // refresh() fires damage into this.damage; nothing may send meanwhile
    try {
      source.refresh();
    } finally {
      this.inFlight = false;
    }
    const pseudo: Uint8Array[] = [];
    if (this.announceQemuKeys) {
      pseudo.push(rectHeader(0, 0, 0, 0, RfbEncoding.qemuExtendedKeyEvent));
      this.announceQemuKeys = false;
    }
    const { width, height } = source;
    const resized = width !== this.clientWidth || height !== this.clientHeight;
    if (resized && this.canResize) {
      pseudo.push(
        this.encodings.has(RfbEncoding.extendedDesktopSize)
          ? extendedDesktopSizeRect(0, 0, width, height)
          : rectHeader(0, 0, width, height, RfbEncoding.desktopSize),
      );
      this.clientWidth = width;
      this.clientHeight = height;
      this.announceExtendedDesktopSize = false;
      this.damage.clear();
      this.damage.add({ x: 0, y: 0, width, height });
      this.requested = { x: 0, y: 0, width, height };
    } else if (this.announceExtendedDesktopSize) {
      pseudo.push(extendedDesktopSizeRect(0, 0, this.clientWidth, this.clientHeight));
      this.announceExtendedDesktopSize = false;
    }
    if (this.pendingResizeReply && this.encodings.has(RfbEncoding.extendedDesktopSize)) {
      pseudo.push(extendedDesktopSizeRect(1, this.pendingResizeReply.status, this.clientWidth, this.clientHeight));
    }
    this.pendingResizeReply = undefined;
    // Pixels only inside what both sides agree the framebuffer is.
    const bounds: Rect = {
      x: 0,
      y: 0,
      width: Math.min(width, this.clientWidth),
      height: Math.min(height, this.clientHeight),
    };
    const area = intersectRect(this.requested, bounds);
    const rects = area ? this.damage.take(area) : [];
    if (pseudo.length === 0 && rects.length === 0) return; // wait for damage
    this.requested = undefined;
    this.inFlight = true;
    // Pixels are copied now (one consistent frame); compression may finish later.
    const pf = this.pixelFormat;
    const pixels = rects.map((r) => convertRect(source.pixels, width, r, pf));
    void this.encodeAndWrite(pseudo, rects, pixels);
  }

  private async encodeAndWrite(pseudo: Uint8Array[], rects: Rect[], pixels: Uint8Array[]): Promise<void> {
    try {
      const encoding = this.preferredEncoding;
      const chunks: Uint8Array[] = [Uint8Array.of(0, 0), u16(pseudo.length + rects.length), ...pseudo];
      for (let i = 0; i < rects.length; i++) {
        const r = rects[i]!;
        chunks.push(rectHeader(r.x, r.y, r.width, r.height, encoding));
        if (encoding === RfbEncoding.zlib) {
          this.zlib ??= new ZlibStream(this.zlibLevel);
          const z = await this.zlib.compress(pixels[i]!);
          chunks.push(u32(z.length), z);
        } else {
          chunks.push(pixels[i]!);
        }
        if (!this.isOpen()) return;
      }
      this.write(chunks, () => {
        this.inFlight = false;
        this.trySend();
      });
    } catch (err) {
      this.fail(`encoding an update failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
