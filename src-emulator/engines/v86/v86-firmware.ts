// Finds the BIOS the v86 engine boots with: SeaBIOS (bios-256k.bin) and the Bochs/std VGA
// BIOS (vgabios-stdvga.bin) — from Maru's bundled resources first, then the host's SeaBIOS
// and QEMU share folders — with a clear error when none is there.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';

/** The firmware files chosen, and where they came from. */
export interface V86Firmware {
  readonly bios: string;
  readonly vgaBios: string;
  readonly folder: string;
}

/** Loaded firmware bytes. */
export interface V86FirmwareImages {
  readonly files: V86Firmware;
  readonly bios: Uint8Array;
  readonly vgaBios: Uint8Array;
}

export interface FindFirmwareOptions {
  /** Maru's resources folder (Electron's process.resourcesPath): firmware/seabios/ in it is searched first. */
  readonly resourcesDir?: string | null;
  /**
   * MARU_SEABIOS_DIR (one folder) or MARU_FIRMWARE_DIRS (a path list, as the host probe reads
   * it) replaces the whole search (packagers, tests).
   */
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
}

const BIOS_NAMES = ['bios-256k.bin', 'bios.bin'];
const VGA_BIOS_NAMES = ['vgabios-stdvga.bin'];
/** SeaBIOS images are 128 or 256 KiB; VGA BIOSes up to 64 KiB. Anything far off is not one. */
const BIOS_SIZES = { min: 64 * 1024, max: 1024 * 1024 };
const VGA_BIOS_SIZES = { min: 16 * 1024, max: 256 * 1024 };

/** Folders searched, in order. */
export function firmwareSearchPath(options: FindFirmwareOptions = {}): string[] {
  const env = options.env ?? process.env;
  const override = env['MARU_SEABIOS_DIR'];
  if (override) return [override];
  const list = env['MARU_FIRMWARE_DIRS']?.split(path.delimiter).filter((d) => d.length > 0);
  if (list?.length) return list;
  const platform = options.platform ?? process.platform;
  const dirs: string[] = [];
  if (options.resourcesDir) dirs.push(path.join(options.resourcesDir, 'firmware', 'seabios'));
  if (platform === 'linux')
    dirs.push('/usr/share/seabios', '/usr/share/qemu', '/usr/local/share/qemu', '/usr/share/qemu-kvm');
  if (platform === 'darwin') dirs.push('/opt/homebrew/share/qemu', '/usr/local/share/qemu');
  if (platform === 'win32') dirs.push('C:\\Program Files\\qemu\\share');
  return dirs;
}

async function plausibleFile(file: string, size: { min: number; max: number }): Promise<boolean> {
  try {
    const s = await stat(file);
    return s.isFile() && s.size >= size.min && s.size <= size.max;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return false;
    throw err;
  }
}

/**
 * The first folder holding both a SeaBIOS image and the std VGA BIOS. Throws
 * MISSING_DEPENDENCY naming every folder looked in, and what to install.
 */
export async function findV86Firmware(options: FindFirmwareOptions = {}): Promise<V86Firmware> {
  const dirs = firmwareSearchPath(options);
  const halfFound: string[] = [];
  for (const dir of dirs) {
    let bios: string | undefined;
    for (const n of BIOS_NAMES) {
      if (await plausibleFile(path.join(dir, n), BIOS_SIZES)) {
        bios = path.join(dir, n);
        break;
      }
    }
    let vgaBios: string | undefined;
    for (const n of VGA_BIOS_NAMES) {
      if (await plausibleFile(path.join(dir, n), VGA_BIOS_SIZES)) {
        vgaBios = path.join(dir, n);
        break;
      }
    }
    if (bios && vgaBios) return { bios, vgaBios, folder: dir };
    if (bios || vgaBios) halfFound.push(`${dir} has ${bios ? path.basename(bios) : path.basename(vgaBios!)} only`);
  }
  const env = options.env ?? process.env;
  throw new AppError(
    'MISSING_DEPENDENCY',
    `The v86 engine found no BIOS to boot with: it needs SeaBIOS (${BIOS_NAMES.join(' or ')}) and the VGA BIOS ` +
      `(${VGA_BIOS_NAMES.join('')}) in one folder, and looked in ${dirs.join(', ') || '(no folders)'}` +
      `${env['MARU_SEABIOS_DIR'] ? ' (set by MARU_SEABIOS_DIR)' : env['MARU_FIRMWARE_DIRS'] ? ' (set by MARU_FIRMWARE_DIRS)' : ''}` +
      `${halfFound.length ? `; ${halfFound.join('; ')}` : ''}. ` +
      'Install SeaBIOS (Debian/Ubuntu: sudo apt install seabios; Fedora: sudo dnf install seabios-bin; ' +
      'macOS: brew install qemu), or reinstall Maru, which bundles them under resources/firmware/seabios.',
  );
}

/** Finds and reads the firmware. */
export async function loadV86Firmware(options: FindFirmwareOptions = {}): Promise<V86FirmwareImages> {
  const files = await findV86Firmware(options);
  const read = async (f: string): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await readFile(f));
    } catch (err) {
      throw new AppError(
        'IO',
        `Cannot read the v86 firmware file ${f}: ${(err as Error).message}. Check its permissions.`,
      );
    }
  };
  return { files, bios: await read(files.bios), vgaBios: await read(files.vgaBios) };
}
