// Helpers for the v86 integration tests: a small RFB viewer over a unix socket (raw and zlib
// rectangles, DesktopSize), a PNG reader for screenshots, and waiting for serial markers.
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { inflateSync, constants as zc } from 'node:zlib';

/** Pixels of an image, RGBA. */
export interface Picture {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what Maru's encoder writes). */
export function decodePng(png: Uint8Array): Picture {
  const b = Buffer.from(png);
  if (b.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const body = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      if (!channels) throw new Error(`colour type ${body[9]} not supported`);
    } else if (type === 'IDAT') idat.push(body);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const up = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = up;
      else if (f === 3) pred = (a + up) >> 1;
      else if (f === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      }
      out[y * stride + x] = (line[x]! + pred) & 0xff;
    }
  }
  if (channels === 4) return { width, height, rgba: out };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < out.length; i += 3, j += 4) {
    rgba[j] = out[i]!;
    rgba[j + 1] = out[i + 1]!;
    rgba[j + 2] = out[i + 2]!;
    rgba[j + 3] = 255;
  }
  return { width, height, rgba };
}

/** How many pixels are not black, and how many distinct colours there are. */
export function pictureStats(p: Picture): { nonBlack: number; colours: number } {
  let nonBlack = 0;
  const colours = new Set<number>();
  for (let i = 0; i < p.rgba.length; i += 4) {
    const v = (p.rgba[i]! << 16) | (p.rgba[i + 1]! << 8) | p.rgba[i + 2]!;
    if (v !== 0) nonBlack++;
    if (colours.size < 4096) colours.add(v);
  }
  return { nonBlack, colours: colours.size };
}

/** Waits until `file` contains `pattern` (a serial log); returns the text. */
export async function waitForLog(file: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'latin1') : '';
    if (pattern.test(text)) return text;
    if (Date.now() > end)
      throw new Error(`${pattern} did not appear in ${file} within ${timeoutMs} ms. Tail:\n${text.slice(-800)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A minimal RFB 3.8 viewer for tests: keeps an RGBA copy of the screen. */
export class TestViewer {
  width = 0;
  height = 0;
  name = '';
  pixels = new Uint8Array(0);
  updates = 0;
  resizes: { width: number; height: number; encoding: number }[] = [];
  qemuKeys = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private compressed: Buffer[] = [];
  private inflated = 0;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static async connect(path: string, encodings: number[] = [6, 0, -223, -308, -258]): Promise<TestViewer> {
    const socket = net.connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const v = new TestViewer(socket);
    const version = (await v.read(12)).toString('latin1');
    if (version !== 'RFB 003.008\n') throw new Error(`unexpected server version ${JSON.stringify(version)}`);
    socket.write('RFB 003.008\n');
    const n = (await v.read(1))[0]!;
    await v.read(n);
    socket.write(Buffer.of(1));
    if ((await v.read(4)).readUInt32BE(0) !== 0) throw new Error('security failed');
    socket.write(Buffer.of(1));
    const init = await v.read(24);
    v.resize(init.readUInt16BE(0), init.readUInt16BE(2));
    v.name = (await v.read(init.readUInt32BE(20))).toString('utf8');
    const se = Buffer.alloc(4 + 4 * encodings.length);
    se[0] = 2;
    se.writeUInt16BE(encodings.length, 2);
    encodings.forEach((e, i) => se.writeInt32BE(e, 4 + 4 * i));
    socket.write(se);
    return v;
  }

  private async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.closed) throw new Error('viewer socket closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  private resize(w: number, h: number): void {
    this.width = w;
    this.height = h;
    this.pixels = new Uint8Array(w * h * 4);
  }

  /** Sends a FramebufferUpdateRequest and applies the update that answers it. */
  async update(incremental: boolean, timeoutMs = 30_000): Promise<void> {
    const req = Buffer.alloc(10);
    req[0] = 3;
    req[1] = incremental ? 1 : 0;
    req.writeUInt16BE(this.width, 6);
    req.writeUInt16BE(this.height, 8);
    this.socket.write(req);
    const timer = setTimeout(() => this.socket.destroy(new Error('update timeout')), timeoutMs);
    try {
      const head = await this.read(4);
      if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
      const count = head.readUInt16BE(2);
      for (let i = 0; i < count; i++) {
        const r = await this.read(12);
        const x = r.readUInt16BE(0);
        const y = r.readUInt16BE(2);
        const w = r.readUInt16BE(4);
        const h = r.readUInt16BE(6);
        const enc = r.readInt32BE(8);
        if (enc === 0) this.blit(x, y, w, h, await this.read(w * h * 4));
        else if (enc === 6) {
          const len = (await this.read(4)).readUInt32BE(0);
          this.compressed.push(await this.read(len));
          const all = inflateSync(Buffer.concat(this.compressed), { finishFlush: zc.Z_SYNC_FLUSH });
          this.blit(x, y, w, h, all.subarray(this.inflated));
          this.inflated = all.length;
        } else if (enc === -223) {
          this.resizes.push({ width: w, height: h, encoding: enc });
          this.resize(w, h);
        } else if (enc === -308) {
          const screens = (await this.read(4))[0]!;
          await this.read(16 * screens);
          this.resizes.push({ width: w, height: h, encoding: enc });
          this.resize(w, h);
        } else if (enc === -258) this.qemuKeys = true;
        else throw new Error(`unexpected encoding ${enc}`);
      }
      this.updates++;
    } finally {
      clearTimeout(timer);
    }
  }

  private blit(x: number, y: number, w: number, h: number, data: Uint8Array): void {
    for (let row = 0; row < h; row++) {
      this.pixels.set(data.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * this.width + x) * 4);
    }
  }

  /** Sends a QEMU extended key event (XT scancode). */
  qemuKey(down: boolean, keysym: number, qnum: number): void {
    const m = Buffer.alloc(12);
    m[0] = 255;
    m[1] = 0;
    m.writeUInt16BE(down ? 1 : 0, 2);
    m.writeUInt32BE(keysym, 4);
    m.writeUInt32BE(qnum, 8);
    this.socket.write(m);
  }

  picture(): Picture {
    return { width: this.width, height: this.height, rgba: this.pixels };
  }

  close(): void {
    this.socket.destroy();
  }
}
