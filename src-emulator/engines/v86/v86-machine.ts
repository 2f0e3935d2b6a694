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

/** The parts of a V86 instance (and its internals) we use. */
interface V86Instance extends V86InputTarget {
  v86: { cpu: { devices: { vga?: V86VgaDevice; cdrom?: { set_cdrom(drive: V86Drive): void } } } };
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
  /** A floppy image, loaded whole (v86 reads floppies synchronously). */
  readonly fda?: Uint8Array;
  readonly bootOrder: number;
  readonly display: V86Display;
  readonly wasmPath?: string;
  /** Limit for loading the emulator (WebAssembly compile, drives). Default 60 s. */
  readonly loadTimeoutMs?: number;
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
  private readonly onSerialByte = (b: number): void => {
    this.pendingSerial.push(b);
    this.serialFlush ??= setImmediate(() => {
      this.serialFlush = undefined;
      const bytes = Uint8Array.from(this.pendingSerial);
      this.pendingSerial = [];
      this.serial.fire(bytes);
    });
  };

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

  sendSerial(data: Uint8Array): void {
    this.emu.serial_send_bytes(0, data);
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
    if (this.destroyed) return;
    this.destroyed = true;
    this.emu.remove_listener('serial0-output-byte', this.onSerialByte as (v: never) => void);
    if (this.serialFlush) clearImmediate(this.serialFlush);
    this.serial.dispose();
    if (this.emu.is_running()) void this.emu.stop();
  }
}
