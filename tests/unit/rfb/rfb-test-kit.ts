// Test kit for the RFB server: an in-memory framebuffer source, an in-memory transport whose
// writes drain on demand, and a small viewer-side reader of the server's messages.
import { inflateSync, constants as zc } from 'node:zlib';
import { Emitter } from '../../../src-emulator/base/event';
import type { FramebufferSize, FramebufferSource, Rect } from '../../../src-emulator/rfb/framebuffer';
import type {
  RfbInputSink,
  RfbKeyEvent,
  RfbPointerEvent,
  RfbTransport,
} from '../../../src-emulator/rfb/rfb-connection';

/** A framebuffer the test paints; `fill` fires damage for the painted area. */
export class TestFramebuffer implements FramebufferSource {
  pixels: Uint8Array;
  refreshes = 0;
  private readonly damage = new Emitter<readonly Rect[]>();
  private readonly resized = new Emitter<FramebufferSize>();
  readonly onDidDamage = this.damage.event;
  readonly onDidResize = this.resized.event;

  constructor(
    public width: number,
    public height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 4);
  }

  get listening(): boolean {
    return this.damage.hasListeners;
  }

  fill(rect: Rect, rgb: readonly [number, number, number], notify = true): void {
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        const o = (y * this.width + x) * 4;
        this.pixels[o] = rgb[0];
        this.pixels[o + 1] = rgb[1];
        this.pixels[o + 2] = rgb[2];
        this.pixels[o + 3] = 255;
      }
    }
    if (notify) this.damage.fire([rect]);
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 4);
    this.resized.fire({ width, height });
    this.damage.fire([{ x: 0, y: 0, width, height }]);
  }

  refresh(): void {
    this.refreshes++;
  }
}

/** Records input events. */
export class RecordingInput implements RfbInputSink {
  readonly keys: RfbKeyEvent[] = [];
  readonly pointers: RfbPointerEvent[] = [];
  key(e: RfbKeyEvent): void {
    this.keys.push(e);
  }
  pointer(e: RfbPointerEvent): void {
    this.pointers.push(e);
  }
}

/** Collects what the server writes; with `autoDrain` off, writes complete only when `drain()` is called. */
export class MemoryTransport implements RfbTransport {
  private data: Uint8Array[] = [];
  private pending: ((err?: Error) => void)[] = [];
  writes = 0;
  closed = false;
  bytesWritten = 0;

  constructor(public autoDrain = true) {}

  write(chunks: readonly Uint8Array[], done: (err?: Error) => void): void {
    this.writes++;
    for (const c of chunks) {
      this.data.push(c.slice());
      this.bytesWritten += c.length;
    }
    if (this.autoDrain) queueMicrotask(() => done());
    else this.pending.push(done);
  }

  close(): void {
    this.closed = true;
  }

  /** Completes the writes held back so far. */
  drain(): void {
    for (const d of this.pending.splice(0)) d();
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /** Takes everything written so far. */
  take(): Uint8Array {
    const total = this.data.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of this.data) {
      out.set(c, o);
      o += c.length;
    }
    this.data = [];
    return out;
  }

  get buffered(): number {
    return this.data.reduce((n, c) => n + c.length, 0);
  }
}

/** Lets microtasks and a macrotask run (zlib finishes on the thread pool). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Waits until `cond()` holds, polling; throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export interface DecodedRect {
  x: number;
  y: number;
  width: number;
  height: number;
  encoding: number;
  /** raw: pixel bytes; zlib: the compressed payload; ExtendedDesktopSize: the screen data. */
  data: Uint8Array;
}

/** A cursor over bytes the server wrote. */
export class ServerReader {
  private off = 0;
  constructor(
    private bytes: Uint8Array,
    private bpp = 4,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.off;
  }

  append(more: Uint8Array): void {
    const b = new Uint8Array(this.remaining + more.length);
    b.set(this.bytes.subarray(this.off), 0);
    b.set(more, this.remaining);
    this.bytes = b;
    this.off = 0;
  }

  setBytesPerPixel(bpp: number): void {
    this.bpp = bpp;
  }

  u8(): number {
    return this.bytes[this.off++]!;
  }
  u16(): number {
    const v = (this.bytes[this.off]! << 8) | this.bytes[this.off + 1]!;
    this.off += 2;
    return v;
  }
  u32(): number {
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.off, 4).getUint32(0);
    this.off += 4;
    return v;
  }
  s32(): number {
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.off, 4).getInt32(0);
    this.off += 4;
    return v;
  }
  take(n: number): Uint8Array {
    if (this.off + n > this.bytes.length) throw new Error(`need ${n} bytes, ${this.remaining} left`);
    const b = this.bytes.slice(this.off, this.off + n);
    this.off += n;
    return b;
  }

  /** Reads one FramebufferUpdate. */
  update(): DecodedRect[] {
    const type = this.u8();
    if (type !== 0) throw new Error(`expected FramebufferUpdate (0), got message ${type}`);
    this.u8();
    const n = this.u16();
    const rects: DecodedRect[] = [];
    for (let i = 0; i < n; i++) {
      const x = this.u16();
      const y = this.u16();
      const width = this.u16();
      const height = this.u16();
      const encoding = this.s32();
      let data: Uint8Array;
      if (encoding === 0) data = this.take(width * height * this.bpp);
      else if (encoding === 6) data = this.take(this.u32());
      else if (encoding === -308) {
        const screens = this.bytes[this.off]!;
        data = this.take(4 + 16 * screens);
      } else data = new Uint8Array(0);
      rects.push({ x, y, width, height, encoding, data });
    }
    return rects;
  }
}

/** Inflates zlib rectangles as one stream (what a viewer does), returning each rectangle's pixels. */
export class ZlibViewerStream {
  private compressed: Uint8Array[] = [];
  private produced = 0;

  next(payload: Uint8Array): Uint8Array {
    this.compressed.push(payload);
    const all = inflateSync(Buffer.concat(this.compressed), { finishFlush: zc.Z_SYNC_FLUSH });
    const out = all.subarray(this.produced);
    this.produced = all.length;
    return out;
  }
}

/** Client-to-server message builders. */
export const clientMsg = {
  version: (v = '003.008') => new TextEncoder().encode(`RFB ${v}\n`),
  setEncodings(list: number[]): Uint8Array {
    const b = new Uint8Array(4 + 4 * list.length);
    const v = new DataView(b.buffer);
    v.setUint8(0, 2);
    v.setUint16(2, list.length);
    list.forEach((e, i) => v.setInt32(4 + 4 * i, e));
    return b;
  },
  setPixelFormat(pf: Uint8Array): Uint8Array {
    const b = new Uint8Array(20);
    b[0] = 0;
    b.set(pf, 4);
    return b;
  },
  updateRequest(incremental: boolean, x: number, y: number, w: number, h: number): Uint8Array {
    const b = new Uint8Array(10);
    const v = new DataView(b.buffer);
    v.setUint8(0, 3);
    v.setUint8(1, incremental ? 1 : 0);
    v.setUint16(2, x);
    v.setUint16(4, y);
    v.setUint16(6, w);
    v.setUint16(8, h);
    return b;
  },
  key(down: boolean, keysym: number): Uint8Array {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint8(0, 4);
    v.setUint8(1, down ? 1 : 0);
    v.setUint32(4, keysym);
    return b;
  },
  qemuKey(down: boolean, keysym: number, keycode: number): Uint8Array {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setUint8(0, 255);
    v.setUint8(1, 0);
    v.setUint16(2, down ? 1 : 0);
    v.setUint32(4, keysym);
    v.setUint32(8, keycode);
    return b;
  },
  pointer(buttons: number, x: number, y: number): Uint8Array {
    const b = new Uint8Array(6);
    const v = new DataView(b.buffer);
    v.setUint8(0, 5);
    v.setUint8(1, buttons);
    v.setUint16(2, x);
    v.setUint16(4, y);
    return b;
  },
  cutText(text: Uint8Array): Uint8Array {
    const b = new Uint8Array(8 + text.length);
    const v = new DataView(b.buffer);
    v.setUint8(0, 6);
    v.setUint32(4, text.length);
    b.set(text, 8);
    return b;
  },
  setDesktopSize(w: number, h: number): Uint8Array {
    const b = new Uint8Array(8 + 16);
    const v = new DataView(b.buffer);
    v.setUint8(0, 251);
    v.setUint16(2, w);
    v.setUint16(4, h);
    v.setUint8(6, 1);
    v.setUint16(8 + 8, w);
    v.setUint16(8 + 10, h);
    return b;
  },
};
