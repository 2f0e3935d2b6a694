// The v86 engine's pure parts: PS/2 scancodes and mouse packets, the VGA text renderer with
// a guest font, the graphics framebuffer's dirty tracking, boot order, firmware search, and
// the engine choice for `engine: auto`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { V86Input, qnumToSet1, strokeToSet1 } from '../../../../src-emulator/engines/v86/ps2-input';
import { V86Display } from '../../../../src-emulator/engines/v86/v86-display';
import { findV86Firmware } from '../../../../src-emulator/engines/v86/v86-firmware';
import { v86BootOrder } from '../../../../src-emulator/engines/v86/v86-machine';
import { VgaTextScreen } from '../../../../src-emulator/engines/v86/vga-text-screen';
import { comboKeys, textToKeyStrokes } from '../../../../src-emulator/input/key-mapping';
import { chooseEngine, v86Problems } from '../../../../src-shared/engine-choice';
import type { HostInfo } from '../../../../src-shared/host-info';
import type { VmConfig } from '../../../../src-shared/vm-config';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('PS/2 set-1 scancodes', () => {
  it('makes and breaks plain and E0 keys, Pause and Print Screen', () => {
    expect(qnumToSet1(0x1e, true)).toEqual([0x1e]);
    expect(qnumToSet1(0x1e, false)).toEqual([0x9e]);
    expect(qnumToSet1(0xcd, true)).toEqual([0xe0, 0x4d]); // Right arrow
    expect(qnumToSet1(0xcd, false)).toEqual([0xe0, 0xcd]);
    expect(qnumToSet1(0x9d, true)).toEqual([0xe0, 0x1d]); // Right Ctrl
    expect(qnumToSet1(0xc6, true)).toEqual([0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
    expect(qnumToSet1(0xc6, false)).toEqual([]);
    expect(qnumToSet1(0xb7, true)).toEqual([0xe0, 0x2a, 0xe0, 0x37]);
  });

  it('types text with shift where needed and presses combos in order, releasing in reverse', () => {
    expect(textToKeyStrokes('aB!').map(strokeToSet1)).toEqual([
      [0x1e, 0x9e],
      [0x2a, 0x30, 0xb0, 0xaa],
      [0x2a, 0x02, 0x82, 0xaa],
    ]);
    expect(strokeToSet1(comboKeys(['ctrl', 'alt', 'del']))).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
  });
});

describe('PS/2 mouse from RFB pointer events', () => {
  function recorder() {
    const events: [string, unknown][] = [];
    const codes: number[][] = [];
    const target = {
      keyboard_send_scancodes: (c: number[]) => codes.push(c),
      bus: { send: (name: string, value: unknown) => events.push([name, value]) },
    };
    return { events, codes, input: new V86Input(() => target) };
  }

  it('turns absolute positions into deltas (y up), split into packet-sized steps', () => {
    const { events, input } = recorder();
    input.pointer({ x: 100, y: 100, buttons: 0 });
    expect(events).toEqual([]); // the first position is only a reference
    input.pointer({ x: 110, y: 90, buttons: 0 });
    input.pointer({ x: 410, y: 90, buttons: 0 });
    expect(events).toEqual([
      ['mouse-delta', [10, 10]],
      ['mouse-delta', [120, 0]],
      ['mouse-delta', [120, 0]],
      ['mouse-delta', [60, 0]],
    ]);
  });

  it("a pointer-locked viewer's positions (off any screen) switch v86's VMMouse to relative; switching back re-references", () => {
    const { events, input } = recorder();
    input.pointer({ x: 100, y: 100, buttons: 0 });
    input.pointer({ x: 32768, y: 32768, buttons: 0 }); // a pointer-locked viewer: reference only
    input.pointer({ x: 32778, y: 32763, buttons: 0 });
    input.pointer({ x: 40000, y: 40000, buttons: 0 }); // its jump back into the band: no motion
    input.pointer({ x: 39990, y: 40000, buttons: 0 });
    input.pointer({ x: 200, y: 100, buttons: 0 }); // a pointing viewer again: reference only
    expect(events).toEqual([
      ['mouse-pointer-lock', true],
      ['mouse-delta', [10, 5]],
      ['mouse-delta', [-10, 0]],
      ['mouse-pointer-lock', false],
    ]);
  });

  it('gives a position on the screen to the VMMouse as an absolute one too', () => {
    const events: [string, unknown][] = [];
    const target = {
      keyboard_send_scancodes: () => undefined,
      bus: { send: (n: string, v: unknown) => events.push([n, v]) },
    };
    const input = new V86Input(
      () => target,
      () => ({ width: 800, height: 600 }),
    );
    input.pointer({ x: 400, y: 300, buttons: 0 });
    input.pointer({ x: 410, y: 300, buttons: 0 });
    expect(events).toEqual([
      ['mouse-absolute', [400, 300, 800, 600]],
      ['mouse-delta', [10, 0]],
      ['mouse-absolute', [410, 300, 800, 600]],
    ]);
  });

  it('reports button changes and one wheel notch per press', () => {
    const { events, input } = recorder();
    input.pointer({ x: 0, y: 0, buttons: 1 });
    input.pointer({ x: 0, y: 0, buttons: 1 });
    input.pointer({ x: 0, y: 0, buttons: 0 });
    input.pointer({ x: 0, y: 0, buttons: 8 });
    input.pointer({ x: 0, y: 0, buttons: 0 });
    input.pointer({ x: 0, y: 0, buttons: 16 });
    expect(events).toEqual([
      ['mouse-click', [true, false, false]],
      ['mouse-click', [false, false, false]],
      ['mouse-wheel', [1, 0]],
      ['mouse-wheel', [-1, 0]],
    ]);
  });

  it('sends keys from RFB as scancodes, and ignores keys it cannot map', () => {
    const { codes, input } = recorder();
    input.key({ down: true, keysym: 0xff53, qnum: 0xcd });
    input.key({ down: true, keysym: 0x20ac, qnum: undefined });
    expect(codes).toEqual([[0xe0, 0x4d]]);
  });
});

describe('VGA text screen', () => {
  /** A font whose glyph for 'A' (0x41) has row y = 0x81 (leftmost and rightmost pixel). */
  function font(height = 16) {
    const plane2 = new Uint8Array(65536);
    for (let y = 0; y < height; y++) plane2[0x41 * 32 + y] = 0x81;
    plane2[0xc4 * 32 + 3] = 0x01; // a line-drawing character with its 8th column set
    return { height, width9: true, widthDouble: false, copy8thColumn: true, plane2 };
  }

  it('paints cells with the guest font, colours and the blank 9th column, and reports only changed rows', () => {
    const t = new VgaTextScreen();
    t.setSize(2, 2);
    t.setFont(font(), true);
    t.setCursorShape(14, 15, false);
    const px = new Uint8Array(t.pixelWidth * t.pixelHeight * 4);
    expect([t.pixelWidth, t.pixelHeight]).toEqual([18, 32]);
    t.putChar(0, 1, 0x41, 0, 0x0000aa, 0xffff55);
    const rects = t.render(px);
    expect(rects).toEqual([
      { x: 0, y: 0, width: 18, height: 16 },
      { x: 0, y: 16, width: 18, height: 16 },
    ]);
    const at = (x: number, y: number) => [...px.subarray((y * 18 + x) * 4, (y * 18 + x) * 4 + 3)];
    expect(at(9, 5)).toEqual([0xff, 0xff, 0x55]); // glyph bit 7
    expect(at(10, 5)).toEqual([0, 0, 0xaa]);
    expect(at(16, 5)).toEqual([0xff, 0xff, 0x55]); // glyph bit 0
    expect(at(17, 5)).toEqual([0, 0, 0xaa]); // 9th column: background for letters
    expect(t.render(px)).toEqual([]);
    t.putChar(1, 0, 0xc4, 0, 0, 0xffffff);
    expect(t.render(px)).toEqual([{ x: 0, y: 16, width: 9, height: 16 }]);
    expect(at(8, 19)).toEqual([255, 255, 255]); // line-drawing: 8th column copied into the 9th
    expect(t.rowText(0)).toBe(' A');
  });

  it('draws the cursor on its scan lines while the blink phase is on', () => {
    const t = new VgaTextScreen();
    t.setSize(1, 1);
    t.setFont(font(), true);
    t.putChar(0, 0, 0x20, 0, 0, 0xaaaaaa);
    t.setCursor(0, 0);
    t.setCursorShape(14, 15, true);
    const px = new Uint8Array(9 * 16 * 4);
    t.render(px);
    expect(px[(14 * 9 + 4) * 4]).toBe(0xaa);
    expect(px[(13 * 9 + 4) * 4]).toBe(0);
    t.blink();
    t.render(px);
    expect(px[(14 * 9 + 4) * 4]).toBe(0);
  });
});

describe('V86Display', () => {
  it('copies graphics rows lazily, reporting only the spans that changed', () => {
    const display = new V86Display();
    const a = display.adapter;
    a.set_mode(true);
    a.set_size_graphical(8, 4, 8, 4);
    const data = new Uint8ClampedArray(8 * 4 * 4);
    const image = { data, width: 8, height: 4 };
    const damage: unknown[] = [];
    const resized: unknown[] = [];
    display.onDidResize((s) => resized.push(s));
    display.onDidDamage((r) => damage.push(...r));
    data.set([9, 9, 9, 255], (1 * 8 + 2) * 4);
    data.set([9, 9, 9, 255], (2 * 8 + 5) * 4);
    // SVGA hands only the changed rows of the whole buffer
    a.update_buffer([
      { image_data: image, screen_x: 0, screen_y: 1, buffer_x: 0, buffer_y: 1, buffer_width: 8, buffer_height: 2 },
    ]);
    expect(damage).toEqual([]); // nothing copied until refresh (or a listener's tick)
    display.refresh();
    expect(damage).toEqual([{ x: 2, y: 1, width: 4, height: 2 }]);
    expect([...display.pixels.subarray((2 * 8 + 5) * 4, (2 * 8 + 5) * 4 + 3)]).toEqual([9, 9, 9]);
    damage.length = 0;
    a.update_buffer([
      { image_data: image, screen_x: 0, screen_y: 0, buffer_x: 0, buffer_y: 0, buffer_width: 8, buffer_height: 4 },
    ]);
    display.refresh();
    expect(damage).toEqual([]); // rows marked but equal: nothing to send
    a.set_size_graphical(16, 4, 16, 4);
    expect(resized).toEqual([{ width: 16, height: 4 }]);
    display.dispose();
  });

  it('switches to text mode at the size of the text grid and font', () => {
    const display = new V86Display();
    display.adapter.set_size_text(80, 25);
    expect([display.width, display.height]).toEqual([720, 400]);
    display.adapter.set_font_bitmap(8, false, false, false, new Uint8Array(65536), true);
    expect([display.width, display.height]).toEqual([640, 200]);
    display.adapter.put_char(0, 0, 0x48, 0, 0, 0xffffff);
    expect(display.adapter.get_text_row(0).startsWith('H')).toBe(true);
    display.dispose();
  });
});

describe('v86 boot order, firmware and engine choice', () => {
  it('encodes boot orders as v86 does (first device in the lowest nibble)', () => {
    expect(v86BootOrder(['cdrom', 'disk'])).toBe(0x123);
    expect(v86BootOrder(['disk', 'cdrom'])).toBe(0x132);
    expect(v86BootOrder(['floppy'])).toBe(0x231);
    expect(v86BootOrder(['network', 'disk'])).toBe(0x132);
  });

  it('finds SeaBIOS + the std VGA BIOS in one folder, and names every folder when it cannot', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-fw-'));
    tmp.push(dir);
    const half = path.join(dir, 'half');
    const full = path.join(dir, 'full');
    mkdirSync(half);
    mkdirSync(full);
    writeFileSync(path.join(half, 'bios-256k.bin'), Buffer.alloc(256 * 1024));
    writeFileSync(path.join(full, 'bios-256k.bin'), Buffer.alloc(256 * 1024));
    writeFileSync(path.join(full, 'vgabios-stdvga.bin'), Buffer.alloc(32 * 1024));
    const env = { MARU_FIRMWARE_DIRS: [half, full].join(path.delimiter) };
    expect(await findV86Firmware({ env })).toEqual({
      bios: path.join(full, 'bios-256k.bin'),
      vgaBios: path.join(full, 'vgabios-stdvga.bin'),
      folder: full,
    });
    await expect(findV86Firmware({ env: { MARU_SEABIOS_DIR: half } })).rejects.toThrow(
      /found no BIOS.*half \(set by MARU_SEABIOS_DIR\); .*half has bios-256k\.bin only.*apt install seabios/,
    );
    // Maru's bundled copy (resources/firmware/seabios) comes before the host's folders.
    const bundledDir = path.join(dir, 'firmware', 'seabios');
    mkdirSync(bundledDir, { recursive: true });
    writeFileSync(path.join(bundledDir, 'bios-256k.bin'), Buffer.alloc(256 * 1024));
    writeFileSync(path.join(bundledDir, 'vgabios-stdvga.bin'), Buffer.alloc(32 * 1024));
    expect((await findV86Firmware({ resourcesDir: dir, env: {}, platform: 'linux' })).folder).toBe(bundledDir);
  });

  const config = (over: Partial<VmConfig>): VmConfig =>
    ({
      engine: 'auto',
      os: 'linux32',
      cpus: 1,
      memoryMiB: 256,
      firmware: 'bios',
      secureBoot: false,
      tpm: false,
      ...over,
    }) as VmConfig;
  const host = (qemu: boolean): HostInfo =>
    ({
      qemu: {
        binaries: qemu ? [{ name: 'qemu-system-x86_64', path: '/usr/bin/qemu-system-x86_64', version: '7.2.0' }] : [],
        img: null,
        versionOk: qemu,
      },
    }) as unknown as HostInfo;

  it('engine auto: v86 without QEMU or for presets that prefer it, else QEMU — with the reason', () => {
    expect(chooseEngine(config({}), host(false))).toEqual({
      engine: 'v86',
      reason: 'engine auto: QEMU is not installed, so the embedded v86 engine runs this VM',
    });
    expect(chooseEngine(config({ os: 'dos' }), host(true)).engine).toBe('v86');
    expect(chooseEngine(config({ os: 'dos' }), host(true)).reason).toMatch(/MS-DOS|DOS.*prefers the v86 engine/);
    expect(chooseEngine(config({}), host(true))).toEqual({ engine: 'qemu', reason: 'engine auto: QEMU is installed' });
    const uefi = chooseEngine(config({ firmware: 'uefi', cpus: 2 }), host(false));
    expect(uefi.engine).toBe('qemu');
    expect(uefi.reason).toMatch(/one CPU.*UEFI/);
    expect(v86Problems(config({ memoryMiB: 4096, tpm: true }))).toEqual([
      'v86 emulates at most 2048 MiB of memory and the VM has 4096 MiB',
      'v86 has no TPM',
    ]);
  });
});
