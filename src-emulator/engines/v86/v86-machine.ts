// The one place that touches v86 (npm `v86`, pinned): builds a V86 instance in this process
// with our screen adapter, drives, firmware and boot order, and exposes the few operations the
// engine needs. Everything v86-internal the engine relies on is named here.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';
import { Emitter, type Event } from '../../base/event';
import type { Disposable } from '../../base/lifecycle';
import type { V86Display, V86ScreenAdapter, V86VgaDevice } from './v86-display';
import { installImageDataShim } from './v86-display';
import type { V86Drive } from './v86-disk';
import type { V86FirmwareImages } from './v86-firmware';
import type { V86InputTarget } from './ps2-input';

/** The v86 version this adapter is written against (package.json pins it exactly). */
export const V86_VERSION = '0.5.462';

/** v86's I/O port dispatch (cpu.io): the guest's IN/OUT instructions call these from WebAssembly. */
interface V86PortIo {
  port_read8(port: number): number;
  port_read16(port: number): number;
  port_read32(port: number): number;
  port_write8(port: number, value: number): void;
  port_write16(port: number, value: number): void;
  port_write32(port: number, value: number): void;
}

/**
 * v86's NE2000 (src/ne2k.js; always present unless another NIC is asked for). Its MAC is random
 * at each start; the guest's driver reads it from the station address PROM (the first 12 bytes
 * of its memory, each byte twice), and the card takes unicast frames for `mac` only.
 */
interface V86Ne2k {
  mac: Uint8Array;
  memory: Uint8Array;
}

/** The parts of v86's CPU object we use. */
interface V86Cpu {
  devices: { vga?: V86VgaDevice; cdrom?: { set_cdrom(drive: V86Drive): void }; net?: V86Ne2k };
  io: V86PortIo;
  /** One emulation slice (WebAssembly export); v86's loop calls it, then yields to the event loop. */
  main_loop(): number;
  /** View of the instruction counter in the WebAssembly memory. */
  instruction_counter: Uint32Array;
}

/** The parts of a V86 instance (and its internals) we use. */
interface V86Instance extends V86InputTarget {
  v86: { cpu: V86Cpu };
  screen_adapter: V86ScreenAdapter;
  add_listener(name: string, fn: (value: never) => void): void;
  remove_listener(name: string, fn: (value: never) => void): void;
  run(): Promise<void>;
  stop(): Promise<void>;
  restart(): void;
  is_running(): boolean;
  save_state(): Promise<ArrayBuffer>;
  restore_state(state: ArrayBuffer): Promise<void>;
  eject_cdrom(): void;
  set_fda(image: { buffer: ArrayBuffer }): Promise<void>;
  set_fdb(image: { buffer: ArrayBuffer }): Promise<void>;
  eject_fda(): void;
  eject_fdb(): void;
  /** The image in a floppy drive as the guest left it (v86 keeps floppies in memory), null when empty. */
  get_disk_fda(): Uint8Array | null;
  get_disk_fdb(): Uint8Array | null;
  serial_send_bytes(serial: number, data: Uint8Array): void;
}

type V86Constructor = new (options: Record<string, unknown>) => V86Instance;

/** Boot devices in v86's boot-order nibbles (first device in the lowest nibble). */
const BOOT_CODE = { floppy: 1, disk: 2, cdrom: 3 } as const;
export type BootDevice = keyof typeof BOOT_CODE;

/** v86's boot_order value for devices in order; devices not named follow in the usual order. */
export function v86BootOrder(order: readonly string[]): number {
  const seen: BootDevice[] = [];
  for (const d of [...order, 'cdrom', 'disk', 'floppy']) {
    if ((d === 'floppy' || d === 'disk' || d === 'cdrom') && !seen.includes(d)) seen.push(d);
  }
  return seen.reduce((v, d, i) => v | (BOOT_CODE[d] << (4 * i)), 0);
}

/** Where v86's WebAssembly module is (next to its JavaScript, in node_modules/v86/build). */
export function defaultWasmPath(): string {
  const require = createRequire(import.meta.url);
  let main: string;
  try {
    main = require.resolve('v86');
  } catch (err) {
    throw new AppError(
      'MISSING_DEPENDENCY',
      `The v86 engine's package (npm "v86") is missing: ${(err as Error).message}. Reinstall Maru (npm ci).`,
    );
  }
  return path.join(path.dirname(main), 'v86.wasm');
}

export interface V86MachineOptions {
  readonly memoryBytes: number;
  readonly firmware: V86FirmwareImages;
  readonly hda?: V86Drive;
  readonly hdb?: V86Drive;
  readonly cdrom?: V86Drive;
  /** Floppy images for drives A: and B:, loaded whole (v86 reads floppies synchronously, from memory). */
  readonly fda?: Uint8Array;
  readonly fdb?: Uint8Array;
  readonly bootOrder: number;
  readonly display: V86Display;
  readonly wasmPath?: string;
  /** Limit for loading the emulator (WebAssembly compile, drives). Default 60 s. */
  readonly loadTimeoutMs?: number;
  /** Longest emulation slice before the event loop gets a turn (see boundSlices). Default 8 ms. */
  readonly sliceBudgetMs?: number;
  /** The NE2000's MAC (`aa:bb:cc:dd:ee:ff`); default v86's random one. */
  readonly nicMac?: string;
}

/** Emulation slice budget: the event loop (display, sockets, timers) runs at least this often while the guest does I/O. */
export const DEFAULT_SLICE_BUDGET_MS = 8;
/** Serial output is handed on at a line end or after this many bytes. */
const SERIAL_BATCH_BYTES = 4096;
/** v86's instructions per batch (LOOP_COUNTER in its cpu.rs): a batch ends once the counter moved this far. */
const V86_LOOP_COUNTER = 100_003;

/**
 * Keeps v86's emulation slices short. v86 returns to the event loop only after a batch of
 * 100,003 instructions, and a REP STOS/MOVS into video memory counts as one instruction however
 * long it runs: a guest that fills a 1024×768 screen per frame held our thread for ~0.5 s per
 * batch, so the display and every socket waited that long. Each port access the guest makes
 * (the PIT, the PIC, VGA registers, the serial port: frequent in any guest that is doing
 * something) checks the clock; past the budget it moves the instruction counter to the end of
 * the batch, so v86 finishes the current instruction and yields. Nothing else reads the counter
 * in v86's release build (only its profiler), and the guest sees no difference.
 */
function boundSlices(cpu: V86Cpu, budgetMs: number): void {
  let sliceStart = 0;
  let yieldRequested = false;
  const mainLoop = cpu.main_loop;
  cpu.main_loop = () => {
    sliceStart = performance.now();
    yieldRequested = false;
    return mainLoop();
  };
  const check = (): void => {
    if (yieldRequested || performance.now() - sliceStart < budgetMs) return;
    yieldRequested = true;
    const counter = cpu.instruction_counter;
    counter[0] = (counter[0]! + V86_LOOP_COUNTER) >>> 0;
  };
  const io = cpu.io;
  const r8 = io.port_read8.bind(io);
  const r16 = io.port_read16.bind(io);
  const r32 = io.port_read32.bind(io);
  const w8 = io.port_write8.bind(io);
  const w16 = io.port_write16.bind(io);
  const w32 = io.port_write32.bind(io);
  io.port_read8 = (p) => (check(), r8(p));
  io.port_read16 = (p) => (check(), r16(p));
  io.port_read32 = (p) => (check(), r32(p));
  io.port_write8 = (p, v) => (check(), w8(p, v));
  io.port_write16 = (p, v) => (check(), w16(p, v));
  io.port_write32 = (p, v) => (check(), w32(p, v));
}

/** Gives the NE2000 the MAC `mac` before the guest's driver reads it. */
function setNe2kMac(cpu: V86Cpu, mac: string): void {
  const ne2k = cpu.devices.net;
  if (!ne2k) throw new AppError('INTERNAL', 'The v86 PC has no NE2000 network card.');
  const bytes = mac.split(':').map((h) => parseInt(h, 16));
  if (bytes.length !== 6 || bytes.some((b) => !(b >= 0 && b <= 255))) {
    throw new AppError('INVALID_ARGUMENT', `${JSON.stringify(mac)} is not a MAC address (aa:bb:cc:dd:ee:ff).`);
  }
  ne2k.mac.set(bytes);
  // The station address PROM: each byte twice (word-wide reads), as the card builds it.
  bytes.forEach((b, i) => {
    ne2k.memory[i << 1] = b;
    ne2k.memory[(i << 1) | 1] = b;
  });
}

function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : (bytes.slice().buffer as ArrayBuffer);
}

/** A loaded (not yet running) v86 PC. */
export class V86Machine implements Disposable {
  private readonly serial = new Emitter<Uint8Array>();
  /** Bytes the guest wrote to COM1, in batches. */
  readonly onSerialOutput: Event<Uint8Array> = this.serial.event;
  private pendingSerial: number[] = [];
  private serialFlush: NodeJS.Immediate | undefined;
  private destroyed = false;
  // Bytes arrive one by one from inside an emulation slice. A full line goes out at once (its
  // listeners' socket writes reach the kernel while the guest keeps running); the rest of a
  // line waits for the end of the slice.
  private readonly onSerialByte = (b: number): void => {
    this.pendingSerial.push(b);
    if (b === 0x0a || this.pendingSerial.length >= SERIAL_BATCH_BYTES) {
      this.flushSerial();
      return;
    }
    this.serialFlush ??= setImmediate(() => this.flushSerial());
  };

  private flushSerial(): void {
    if (this.serialFlush) clearImmediate(this.serialFlush);
    this.serialFlush = undefined;
    if (this.pendingSerial.length === 0 || this.destroyed) return;
    const bytes = Uint8Array.from(this.pendingSerial);
    this.pendingSerial = [];
    this.serial.fire(bytes);
  }

  private constructor(private readonly emu: V86Instance) {
    emu.add_listener('serial0-output-byte', this.onSerialByte as (v: never) => void);
  }

  /** Creates the PC and waits until v86 has loaded it (firmware, drives, devices); it does not run yet. */
  static async create(opts: V86MachineOptions): Promise<V86Machine> {
    const wasmPath = opts.wasmPath ?? defaultWasmPath();
    if (!existsSync(wasmPath)) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `v86's WebAssembly module ${wasmPath} is missing. Reinstall Maru (npm ci).`,
      );
    }
    installImageDataShim();
    const { V86 } = (await import('v86')) as unknown as { V86: V86Constructor };
    const emu = new V86({
      wasm_path: wasmPath,
      memory_size: opts.memoryBytes,
      vga_memory_size: 8 * 1024 * 1024,
      bios: { buffer: ownBuffer(opts.firmware.bios) },
      vga_bios: { buffer: ownBuffer(opts.firmware.vgaBios) },
      ...(opts.hda ? { hda: opts.hda } : {}),
      ...(opts.hdb ? { hdb: opts.hdb } : {}),
      ...(opts.cdrom ? { cdrom: opts.cdrom } : {}),
      ...(opts.fda ? { fda: { buffer: ownBuffer(opts.fda) } } : {}),
      ...(opts.fdb ? { fdb: { buffer: ownBuffer(opts.fdb) } } : {}),
      boot_order: opts.bootOrder,
      acpi: false,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    });
    // v86 picks its screen adapter itself once the WebAssembly module is in (after this
    // constructor returns); hand it ours instead. It assigns `screen_adapter` exactly once.
    Object.defineProperty(emu, 'screen_adapter', {
      get: () => opts.display.adapter,
      set: () => undefined,
      configurable: true,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new AppError('INTERNAL', `The v86 emulator did not load within ${(opts.loadTimeoutMs ?? 60_000) / 1000} s.`),
        );
      }, opts.loadTimeoutMs ?? 60_000);
      emu.add_listener('emulator-loaded', (() => {
        clearTimeout(timer);
        resolve();
      }) as (v: never) => void);
    });
    const vga = emu.v86.cpu.devices.vga;
    if (!vga) throw new AppError('INTERNAL', 'The v86 emulator has no VGA device.');
    opts.display.attach(vga);
    if (opts.nicMac) setNe2kMac(emu.v86.cpu, opts.nicMac);
    boundSlices(emu.v86.cpu, opts.sliceBudgetMs ?? DEFAULT_SLICE_BUDGET_MS);
    return new V86Machine(emu);
  }

  /** The keyboard and mouse target. */
  get input(): V86InputTarget {
    return this.emu;
  }

  get running(): boolean {
    return !this.destroyed && this.emu.is_running();
  }

  async run(): Promise<void> {
    await this.emu.run();
  }

  /** Halts the CPU; resolves once it has stopped. */
  async stop(): Promise<void> {
    if (this.emu.is_running()) await this.emu.stop();
  }

  /** Hardware reset. */
  restart(): void {
    this.emu.restart();
  }

  saveState(): Promise<ArrayBuffer> {
    return this.emu.save_state();
  }

  restoreState(state: ArrayBuffer): Promise<void> {
    return this.emu.restore_state(state);
  }

  /** Inserts a medium into the CD-ROM drive (the drive is always there). */
  insertCdrom(drive: V86Drive): void {
    const cdrom = this.emu.v86.cpu.devices.cdrom;
    if (!cdrom) throw new AppError('INTERNAL', 'The v86 PC has no CD-ROM drive.');
    cdrom.set_cdrom(drive);
  }

  ejectCdrom(): void {
    this.emu.eject_cdrom();
  }

  /**
   * Puts a floppy image in drive A: (0) or B: (1) while the PC runs, as when a disk is swapped
   * by hand (v86 signals the media change to the guest). v86 works on these bytes in place.
   */
  async insertFloppy(unit: 0 | 1, image: Uint8Array): Promise<void> {
    const buffer = { buffer: ownBuffer(image) };
    await (unit === 0 ? this.emu.set_fda(buffer) : this.emu.set_fdb(buffer));
  }

  ejectFloppy(unit: 0 | 1): void {
    if (unit === 0) this.emu.eject_fda();
    else this.emu.eject_fdb();
  }

  /** The image in floppy drive `unit` as the guest has written it, or null when the drive is empty. */
  floppyContents(unit: 0 | 1): Uint8Array | null {
    return unit === 0 ? this.emu.get_disk_fda() : this.emu.get_disk_fdb();
  }

  sendSerial(data: Uint8Array): void {
    this.emu.serial_send_bytes(0, data);
  }

  /**
   * Cables the NE2000 (v86's `net0`) to a network: `onSend` gets each Ethernet frame the guest
   * sends (a view of the card's memory, valid during the call); the function returned hands the
   * card a frame (it copies it into its ring at once, or drops it when the ring is full).
   */
  attachNetwork(onSend: (frame: Uint8Array) => void): { receive(frame: Uint8Array): void; dispose(): void } {
    const listener = onSend as (v: never) => void;
    this.emu.add_listener('net0-send', listener);
    return {
      receive: (frame) => {
        if (!this.destroyed) this.emu.bus.send('net0-receive', frame);
      },
      dispose: () => this.emu.remove_listener('net0-send', listener),
    };
  }

  /**
   * Stops the emulator and lets it go. (V86.destroy() waits for a stop event that never comes
   * when the CPU is already halted; in Node nothing else of v86's needs tearing down: its
   * loop is driven by setImmediate/setTimeout and ends when the CPU stops.)
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emu.remove_listener('serial0-output-byte', this.onSerialByte as (v: never) => void);
    if (this.serialFlush) clearImmediate(this.serialFlush);
    this.serial.dispose();
    if (this.emu.is_running()) await this.emu.stop();
  }

  /** Halts the CPU at once (its loop ends on the next slice) without waiting. */
  dispose(): void {
    // destroy() lets go of everything before its first await; only the CPU's stop is left to finish.
    void this.destroy();
  }
}
