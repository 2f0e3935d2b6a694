// The RFB server connection against a scripted viewer over an in-memory transport:
// handshakes, pixel formats, incremental updates, zlib continuity, resize, input, backpressure.
import { describe, expect, it } from 'vitest';
import { RfbServerConnection, RfbEncoding } from '../../../src-emulator/rfb/rfb-connection';
import { encodePixelFormat, NATIVE_PIXEL_FORMAT } from '../../../src-emulator/rfb/pixel-format';
import {
  MemoryTransport,
  RecordingInput,
  ServerReader,
  TestFramebuffer,
  ZlibViewerStream,
  clientMsg,
  settle,
  until,
} from './rfb-test-kit';

function setup(opts: { width?: number; height?: number; autoDrain?: boolean; maxDamageRects?: number } = {}) {
  const fb = new TestFramebuffer(opts.width ?? 64, opts.height ?? 48);
  const input = new RecordingInput();
  const transport = new MemoryTransport(opts.autoDrain ?? true);
  let closedWith: string | undefined | null = null;
  const conn = new RfbServerConnection({
    source: fb,
    input,
    transport,
    desktopName: 'maru-test',
    ...(opts.maxDamageRects ? { maxDamageRects: opts.maxDamageRects } : {}),
    onClose: (r) => {
      closedWith = r;
    },
  });
  return { fb, input, transport, conn, closed: () => closedWith };
}

/** Runs the 3.8 handshake and returns a reader positioned after ServerInit. */
function handshake(s: ReturnType<typeof setup>): ServerReader {
  s.conn.receive(clientMsg.version());
  s.conn.receive(Uint8Array.of(1));
  s.conn.receive(Uint8Array.of(1)); // shared
  const r = new ServerReader(s.transport.take());
  r.take(12 + 2 + 4); // version, security list, SecurityResult
  r.take(2 + 2 + 16); // ServerInit size + pixel format
  r.take(r.u32()); // name
  return r;
}

async function nextUpdate(s: ReturnType<typeof setup>, bpp = 4) {
  await until(() => s.transport.buffered > 0);
  await settle();
  const r = new ServerReader(s.transport.take(), bpp);
  const rects = r.update();
  expect(r.remaining).toBe(0);
  return rects;
}

function pixelAt(rectData: Uint8Array, rectWidth: number, x: number, y: number, bpp = 4): number[] {
  const o = (y * rectWidth + x) * bpp;
  return [...rectData.subarray(o, o + bpp)];
}

describe('RFB handshake', () => {
  it('speaks 3.8 with security None, then ServerInit with the framebuffer size, native format and name', () => {
    const s = setup({ width: 640, height: 400 });
    const out1 = s.transport.take();
    expect(new TextDecoder().decode(out1)).toBe('RFB 003.008\n');
    expect(s.conn.state).toBe('version');
    // bytes arrive in pieces: the parser resumes where they ran out
    const v = clientMsg.version();
    s.conn.receive(v.subarray(0, 5));
    expect(s.conn.state).toBe('version');
    s.conn.receive(v.subarray(5));
    expect([...s.transport.take()]).toEqual([1, 1]); // one type: None
    s.conn.receive(Uint8Array.of(1));
    expect([...s.transport.take()]).toEqual([0, 0, 0, 0]); // SecurityResult OK
    s.conn.receive(Uint8Array.of(0));
    const r = new ServerReader(s.transport.take());
    expect(r.u16()).toBe(640);
    expect(r.u16()).toBe(400);
    expect([...r.take(16)]).toEqual([...encodePixelFormat(NATIVE_PIXEL_FORMAT)]);
    expect(new TextDecoder().decode(r.take(r.u32()))).toBe('maru-test');
    expect(s.conn.state).toBe('normal');
  });

  it('lets a 3.3 viewer in with the server-chosen security type, and a 3.7 one without SecurityResult', () => {
    const s33 = setup();
    s33.transport.take();
    s33.conn.receive(clientMsg.version('003.003'));
    expect([...s33.transport.take()]).toEqual([0, 0, 0, 1]);
    s33.conn.receive(Uint8Array.of(1));
    expect(s33.conn.state).toBe('normal');

    const s37 = setup();
    s37.transport.take();
    s37.conn.receive(clientMsg.version('003.007'));
    expect([...s37.transport.take()]).toEqual([1, 1]);
    s37.conn.receive(Uint8Array.of(1));
    expect(s37.transport.take().length).toBe(0); // no SecurityResult for None before 3.8
    s37.conn.receive(Uint8Array.of(1));
    expect(s37.conn.state).toBe('normal');
  });

  it('refuses a security type it did not offer, telling a 3.8 viewer why, and refuses non-RFB peers', () => {
    const s = setup();
    s.transport.take();
    s.conn.receive(clientMsg.version());
    s.transport.take();
    s.conn.receive(Uint8Array.of(2)); // VNC authentication
    const r = new ServerReader(s.transport.take());
    expect(r.u32()).toBe(1);
    expect(new TextDecoder().decode(r.take(r.u32()))).toMatch(/security type 2 is not offered/);
    expect(s.conn.state).toBe('closed');
    expect(s.transport.closed).toBe(true);
    expect(s.closed()).toMatch(/security type 2/);

    const g = setup();
    g.conn.receive(new TextEncoder().encode('GET / HTTP/1.1\r\n'));
    expect(g.conn.state).toBe('closed');
    expect(g.closed()).toMatch(/not an RFB 3.x viewer/);
  });

  it('fails on an unknown message type (messages carry no length) and ignores bytes after close', () => {
    const s = setup();
    handshake(s);
    s.conn.receive(Uint8Array.of(77, 1, 2, 3));
    expect(s.conn.state).toBe('closed');
    expect(s.closed()).toBe('unknown client message type 77');
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 1, 1));
    expect(s.transport.buffered).toBe(0);
  });
});

describe('RFB framebuffer updates', () => {
  it('sends the requested area in full, then only damaged rectangles, and nothing without damage', async () => {
    const s = setup({ width: 64, height: 48 });
    handshake(s);
    s.fb.fill({ x: 0, y: 0, width: 64, height: 48 }, [10, 20, 30], false);
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 64, 48));
    const full = await nextUpdate(s);
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ x: 0, y: 0, width: 64, height: 48, encoding: 0 });
    expect(pixelAt(full[0]!.data, 64, 5, 5).slice(0, 3)).toEqual([10, 20, 30]);

    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 64, 48));
    await settle();
    expect(s.transport.buffered).toBe(0); // nothing changed: the request waits
    s.fb.fill({ x: 8, y: 4, width: 10, height: 6 }, [200, 100, 50]);
    const inc = await nextUpdate(s);
    expect(inc).toHaveLength(1);
    expect(inc[0]).toMatchObject({ x: 8, y: 4, width: 10, height: 6, encoding: 0 });
    expect(pixelAt(inc[0]!.data, 10, 9, 5).slice(0, 3)).toEqual([200, 100, 50]);
    expect(s.fb.refreshes).toBeGreaterThan(0);
  });

  it('keeps separate damaged areas apart and merges touching ones', async () => {
    const s = setup({ width: 100, height: 100 });
    handshake(s);
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 100, 100));
    await nextUpdate(s);
    s.fb.fill({ x: 0, y: 0, width: 5, height: 5 }, [1, 1, 1]);
    s.fb.fill({ x: 5, y: 0, width: 5, height: 5 }, [2, 2, 2]); // touches the first
    s.fb.fill({ x: 80, y: 80, width: 10, height: 10 }, [3, 3, 3]);
    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 100, 100));
    const rects = await nextUpdate(s);
    expect(rects.map(({ x, y, width, height }) => ({ x, y, width, height }))).toEqual(
      expect.arrayContaining([
        { x: 0, y: 0, width: 10, height: 5 },
        { x: 80, y: 80, width: 10, height: 10 },
      ]),
    );
    expect(rects).toHaveLength(2);
  });

  it('converts to the pixel format the viewer sets: BGRX, 16-bit 5-6-5 big-endian, 8-bit BGR233', async () => {
    const s = setup({ width: 4, height: 2 });
    handshake(s);
    s.fb.fill({ x: 0, y: 0, width: 4, height: 2 }, [0xff, 0x80, 0x10], false);

    const bgrx = { ...NATIVE_PIXEL_FORMAT, redShift: 16, greenShift: 8, blueShift: 0 };
    s.conn.receive(clientMsg.setPixelFormat(encodePixelFormat(bgrx)));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 4, 2));
    let [r] = await nextUpdate(s);
    expect(pixelAt(r!.data, 4, 1, 1).slice(0, 3)).toEqual([0x10, 0x80, 0xff]);

    const rgb565be = {
      bitsPerPixel: 16,
      depth: 16,
      bigEndian: true,
      trueColour: true,
      redMax: 31,
      greenMax: 63,
      blueMax: 31,
      redShift: 11,
      greenShift: 5,
      blueShift: 0,
    };
    s.conn.receive(clientMsg.setPixelFormat(encodePixelFormat(rgb565be)));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 4, 2));
    [r] = await nextUpdate(s, 2);
    const v565 = (0x1f << 11) | ((0x80 >> 2) << 5) | (0x10 >> 3);
    expect(pixelAt(r!.data, 4, 2, 0, 2)).toEqual([v565 >> 8, v565 & 0xff]);

    const bgr233 = {
      bitsPerPixel: 8,
      depth: 8,
      bigEndian: false,
      trueColour: true,
      redMax: 7,
      greenMax: 7,
      blueMax: 3,
      redShift: 0,
      greenShift: 3,
      blueShift: 6,
    };
    s.conn.receive(clientMsg.setPixelFormat(encodePixelFormat(bgr233)));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 4, 2));
    [r] = await nextUpdate(s, 1);
    expect(r!.data[0]).toBe(7 | (4 << 3) | (0 << 6));
  });

  it('refuses a colour-map pixel format with a reason', () => {
    const s = setup();
    handshake(s);
    s.conn.receive(
      clientMsg.setPixelFormat(encodePixelFormat({ ...NATIVE_PIXEL_FORMAT, bitsPerPixel: 8, trueColour: false })),
    );
    expect(s.conn.state).toBe('closed');
    expect(s.closed()).toMatch(/colour-map pixel format/);
  });

  it('zlib: one stream for the connection, inflated continuously across updates', async () => {
    const s = setup({ width: 32, height: 32 });
    handshake(s);
    s.conn.receive(clientMsg.setEncodings([RfbEncoding.zlib, RfbEncoding.raw]));
    const viewer = new ZlibViewerStream();
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const colour = [i * 40, 255 - i * 40, i * 7] as const;
      s.fb.fill({ x: i * 4, y: i * 2, width: 12, height: 9 }, colour);
      s.conn.receive(clientMsg.updateRequest(i > 0, 0, 0, 32, 32));
      const rects = await nextUpdate(s);
      for (const r of rects) {
        expect(r.encoding).toBe(RfbEncoding.zlib);
        payloads.push(r.data);
        const pixels = viewer.next(r.data);
        expect(pixels.length).toBe(r.width * r.height * 4);
        const lx = i * 4 + 5 - r.x;
        const ly = i * 2 + 4 - r.y;
        expect(pixelAt(pixels, r.width, lx, ly).slice(0, 3)).toEqual([...colour]);
      }
    }
    // Later rectangles are not standalone streams: they continue the first one.
    expect(payloads[0]![0]).toBe(0x78); // zlib header only at the start
    expect(payloads.length).toBeGreaterThanOrEqual(4);
    expect(payloads[2]![0]).not.toBe(0x78);
  });

  it('announces a resize with DesktopSize, then sends the whole new framebuffer', async () => {
    const s = setup({ width: 40, height: 30 });
    handshake(s);
    s.conn.receive(clientMsg.setEncodings([RfbEncoding.raw, RfbEncoding.desktopSize]));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 40, 30));
    await nextUpdate(s);
    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 40, 30));
    s.fb.resize(80, 50);
    s.fb.fill({ x: 70, y: 40, width: 10, height: 10 }, [9, 8, 7]);
    const rects = await nextUpdate(s);
    expect(rects[0]).toMatchObject({ x: 0, y: 0, width: 80, height: 50, encoding: RfbEncoding.desktopSize });
    expect(rects[1]).toMatchObject({ x: 0, y: 0, width: 80, height: 50, encoding: 0 });
    expect(pixelAt(rects[1]!.data, 80, 75, 45).slice(0, 3)).toEqual([9, 8, 7]);
  });

  it('announces ExtendedDesktopSize, uses it for resizes, and answers SetDesktopSize with "prohibited"', async () => {
    const s = setup({ width: 40, height: 30 });
    handshake(s);
    s.conn.receive(clientMsg.setEncodings([RfbEncoding.raw, RfbEncoding.desktopSize, RfbEncoding.extendedDesktopSize]));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 40, 30));
    let rects = await nextUpdate(s);
    expect(rects[0]).toMatchObject({ x: 0, y: 0, width: 40, height: 30, encoding: RfbEncoding.extendedDesktopSize });
    expect(rects[0]!.data[0]).toBe(1); // one screen
    expect(rects[1]).toMatchObject({ encoding: 0, width: 40, height: 30 });

    s.fb.resize(100, 60);
    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 40, 30));
    rects = await nextUpdate(s);
    expect(rects[0]).toMatchObject({ x: 0, y: 0, width: 100, height: 60, encoding: RfbEncoding.extendedDesktopSize });
    expect(rects[1]).toMatchObject({ width: 100, height: 60, encoding: 0 });

    s.conn.receive(clientMsg.setDesktopSize(1280, 720));
    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 100, 60));
    rects = await nextUpdate(s);
    // x = 1 (the client asked), y = 1 (administratively prohibited), the size stays
    expect(rects[0]).toMatchObject({ x: 1, y: 1, width: 100, height: 60, encoding: RfbEncoding.extendedDesktopSize });
  });

  it('acknowledges QEMU extended key events so viewers send scancodes', async () => {
    const s = setup();
    handshake(s);
    s.conn.receive(clientMsg.setEncodings([RfbEncoding.raw, RfbEncoding.qemuExtendedKeyEvent]));
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 64, 48));
    const rects = await nextUpdate(s);
    expect(rects[0]).toMatchObject({ encoding: RfbEncoding.qemuExtendedKeyEvent, width: 0, height: 0 });
  });
});

describe('RFB input', () => {
  it('passes QEMU extended key events through with their XT scancode, E0 keys with the high bit', () => {
    const s = setup();
    handshake(s);
    s.conn.receive(clientMsg.qemuKey(true, 0xff53, 0xcd)); // Right arrow: E0 4D
    s.conn.receive(clientMsg.qemuKey(false, 0xff53, 0xcd));
    s.conn.receive(clientMsg.qemuKey(true, 0x61, 0)); // keycode 0: fall back to the keysym
    expect(s.input.keys).toEqual([
      { down: true, keysym: 0xff53, qnum: 0xcd },
      { down: false, keysym: 0xff53, qnum: 0xcd },
      { down: true, keysym: 0x61, qnum: 0x1e },
    ]);
  });

  it('maps plain key events from keysyms on a US layout', () => {
    const s = setup();
    handshake(s);
    const syms = [0x61, 0x41, 0x21, 0xffbe, 0xff0d, 0xffe3, 0xffff, 0x7c, 0x20ac];
    for (const k of syms) s.conn.receive(clientMsg.key(true, k));
    expect(s.input.keys.map((k) => k.qnum)).toEqual([0x1e, 0x1e, 0x02, 0x3b, 0x1c, 0x1d, 0xd3, 0x2b, undefined]);
  });

  it('passes pointer events with buttons and positions as sent (a pointer-locked viewer goes past the screen)', () => {
    const s = setup({ width: 64, height: 48 });
    handshake(s);
    s.conn.receive(clientMsg.pointer(0, 10, 20));
    s.conn.receive(clientMsg.pointer(1 | 8, 1000, 65535));
    expect(s.input.pointers).toEqual([
      { x: 10, y: 20, buttons: 0 },
      { x: 1000, y: 65535, buttons: 9 },
    ]);
  });

  it('skips ClientCutText however it arrives, without buffering it', () => {
    const s = setup();
    handshake(s);
    const big = new Uint8Array(300_000).fill(65);
    const msg = clientMsg.cutText(big);
    for (let i = 0; i < msg.length; i += 7001) s.conn.receive(msg.subarray(i, i + 7001));
    s.conn.receive(clientMsg.key(true, 0x62));
    expect(s.conn.state).toBe('normal');
    expect(s.input.keys).toEqual([{ down: true, keysym: 0x62, qnum: 0x30 }]);
  });
});

describe('RFB backpressure', () => {
  it('keeps one update in flight; damage meanwhile merges into the next, latest pixels win', async () => {
    const s = setup({ width: 64, height: 64, autoDrain: false, maxDamageRects: 8 });
    handshake(s);
    s.transport.drain(); // the handshake's writes
    s.conn.receive(clientMsg.updateRequest(false, 0, 0, 64, 64));
    await until(() => s.transport.pendingWrites === 1);
    s.transport.take();
    // A slow reader: it asks again at once, but the first update has not drained.
    s.conn.receive(clientMsg.updateRequest(true, 0, 0, 64, 64));
    for (let i = 0; i < 200; i++) s.fb.fill({ x: (i * 13) % 60, y: (i * 7) % 60, width: 3, height: 3 }, [i, i, i]);
    s.fb.fill({ x: 0, y: 0, width: 2, height: 2 }, [250, 1, 2]);
    await settle();
    expect(s.transport.pendingWrites).toBe(1);
    expect(s.transport.buffered).toBe(0); // nothing more was written
    expect(s.transport.writes).toBe(5); // 4 handshake writes + the first update
    s.transport.drain();
    await until(() => s.transport.pendingWrites === 1);
    const r = new ServerReader(s.transport.take());
    const rects = r.update();
    expect(rects.length).toBeLessThanOrEqual(8); // bounded however much damage piled up
    const corner = rects.find((x) => x.x === 0 && x.y === 0)!;
    expect(pixelAt(corner.data, corner.width, 0, 0).slice(0, 3)).toEqual([250, 1, 2]);
    // No request outstanding now: further damage is held, not written.
    s.transport.drain();
    s.fb.fill({ x: 1, y: 1, width: 1, height: 1 }, [0, 0, 0]);
    await settle();
    expect(s.transport.writes).toBe(6);
    s.conn.dispose();
    expect(s.fb.listening).toBe(false);
  });
});
