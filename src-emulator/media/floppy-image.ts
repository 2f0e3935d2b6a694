// Floppy images: checking that a file is one (a regular file of a standard floppy size), and
// writing a new empty one formatted as FAT12 (boot sector, two FATs, root directory) the way
// DOS's FORMAT lays it out — no mkfs.fat needed. Both engines and the services use these.
import { randomBytes } from 'node:crypto';
import { link, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';
import { statUserFile } from '../../src-node/file-presence';
import {
  floppyFormatOfSize,
  floppySizeProblem,
  CREATABLE_FLOPPY_SIZES,
  type CreatableFloppySize,
  type FloppyFormat,
} from '../../src-shared/storage-layout';

export interface FloppyInfo {
  /** Absolute path. */
  readonly path: string;
  readonly bytes: number;
  readonly format: FloppyFormat;
}

/**
 * Checks that `file` is a floppy image: it exists, is a regular file, and has one of the sizes
 * in FLOPPY_FORMATS. NOT_FOUND / INVALID_ARGUMENT with the reason; the file is only stat'ed.
 */
export async function inspectFloppy(file: string): Promise<FloppyInfo> {
  const { abs, size } = await statUserFile(file, 'The floppy image', ', so not a floppy image');
  const format = floppyFormatOfSize(size);
  if (!format) throw new AppError('INVALID_ARGUMENT', floppySizeProblem(abs, size)!, { path: abs });
  return { path: abs, bytes: size, format };
}

/** FAT12 layouts of the formats `maru floppy create` writes (as DOS's FORMAT and mkfs.fat lay them out). */
const FAT12: Record<
  CreatableFloppySize,
  { sectors: number; sectorsPerCluster: number; rootEntries: number; sectorsPerFat: number; media: number }
> = {
  '720K': { sectors: 1440, sectorsPerCluster: 2, rootEntries: 112, sectorsPerFat: 3, media: 0xf9 },
  '1.44M': { sectors: 2880, sectorsPerCluster: 1, rootEntries: 224, sectorsPerFat: 9, media: 0xf0 },
  '2.88M': { sectors: 5760, sectorsPerCluster: 2, rootEntries: 240, sectorsPerFat: 9, media: 0xf0 },
};

const SECTOR = 512;

/**
 * Boot code for a floppy that holds no system (at 0x3E, loaded at 0000:7C00): prints the
 * message at 0x56 through the BIOS teletype, then int 18h — "boot failed, try the next
 * device" (SeaBIOS moves on down the boot order) — so a data floppy left in drive A: does not
 * stop a VM that boots from its disk or CD.
 */
// prettier-ignore
const BOOT_CODE = [
  0x31, 0xc0, // xor ax, ax
  0x8e, 0xd8, // mov ds, ax
  0xbe, 0x56, 0x7c, // mov si, 0x7c56 (the message)
  0xfc, // cld
  0xac, // .next: lodsb
  0x08, 0xc0, // or al, al
  0x74, 0x09, // jz .done
  0xb4, 0x0e, // mov ah, 0x0e (teletype)
  0xbb, 0x07, 0x00, // mov bx, 0x0007 (page 0, grey)
  0xcd, 0x10, // int 0x10
  0xeb, 0xf2, // jmp .next
  0xcd, 0x18, // .done: int 0x18 (boot the next device)
];
const BOOT_MESSAGE_AT = 0x56;
const BOOT_MESSAGE = '\r\nThis floppy has no operating system on it: booting from the next device.\r\n\0';

/** The image bytes of an empty FAT12 floppy of `size`. `volumeId` defaults to random. */
export function formatFloppy(
  size: CreatableFloppySize,
  options: { volumeId?: number; label?: string } = {},
): Uint8Array {
  const f = FAT12[size];
  const geometry = floppyFormatOfSize(f.sectors * SECTOR)!;
  const image = new Uint8Array(f.sectors * SECTOR);
  const view = new DataView(image.buffer);
  const ascii = (offset: number, text: string, length: number): void => {
    const padded = text.padEnd(length, ' ').slice(0, length);
    for (let i = 0; i < length; i++) image[offset + i] = padded.charCodeAt(i) & 0x7f;
  };
  // Boot sector: jump, OEM name, BIOS parameter block (DOS 4.0 extended form).
  image.set([0xeb, 0x3c, 0x90], 0);
  ascii(3, 'MARU', 8);
  view.setUint16(11, SECTOR, true);
  image[13] = f.sectorsPerCluster;
  view.setUint16(14, 1, true); // reserved sectors: the boot sector
  image[16] = 2; // FATs
  view.setUint16(17, f.rootEntries, true);
  view.setUint16(19, f.sectors, true);
  image[21] = f.media;
  view.setUint16(22, f.sectorsPerFat, true);
  view.setUint16(24, geometry.sectorsPerTrack, true);
  view.setUint16(26, geometry.heads, true);
  view.setUint32(28, 0, true); // hidden sectors
  view.setUint32(32, 0, true); // total sectors (32-bit): the 16-bit field holds it
  image[36] = 0x00; // BIOS drive number: A:
  image[38] = 0x29; // extended boot signature: the three fields below are present
  view.setUint32(39, (options.volumeId ?? randomBytes(4).readUInt32LE(0)) >>> 0, true);
  ascii(43, (options.label ?? 'NO NAME').toUpperCase(), 11);
  ascii(54, 'FAT12', 8);
  image.set(BOOT_CODE, 0x3e);
  for (let i = 0; i < BOOT_MESSAGE.length; i++) image[BOOT_MESSAGE_AT + i] = BOOT_MESSAGE.charCodeAt(i);
  image[510] = 0x55;
  image[511] = 0xaa;
  // Both FATs: entry 0 holds the media descriptor, entry 1 end-of-chain; every cluster free.
  for (let fat = 0; fat < 2; fat++) {
    const at = (1 + fat * f.sectorsPerFat) * SECTOR;
    image.set([f.media, 0xff, 0xff], at);
  }
  // The root directory (right after the FATs) and the data area stay zero: empty.
  return image;
}

/**
 * Writes an empty formatted floppy image to `file` (a new file: an existing one is never
 * replaced — ALREADY_EXISTS). Returns its absolute path.
 */
export async function createFloppyImage(file: string, size: CreatableFloppySize): Promise<FloppyInfo> {
  if (!(CREATABLE_FLOPPY_SIZES as readonly string[]).includes(size)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `A new floppy is ${CREATABLE_FLOPPY_SIZES.join(', ')}; "${String(size)}" is not one of them.`,
    );
  }
  const abs = path.resolve(file);
  const bytes = formatFloppy(size);
  if (await stat(abs).catch(() => null)) {
    throw new AppError('ALREADY_EXISTS', `${abs} already exists; choose a new file name (it was left as it was).`, {
      path: abs,
    });
  }
  // Written beside under a hidden name, then linked in: the new name appears only complete,
  // and the link fails rather than replace a file that appeared meanwhile.
  const temp = path.join(path.dirname(abs), `.${path.basename(abs)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new AppError('ALREADY_EXISTS', `${abs} already exists; choose a new file name (it was left as it was).`, {
        path: abs,
      });
    }
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `The folder ${path.dirname(abs)} does not exist.`);
    throw new AppError(
      'IO',
      `Cannot create the floppy image ${abs}: ${(err as Error).message} (nothing was left behind).`,
    );
  } finally {
    await rm(temp, { force: true });
  }
  return { path: abs, bytes: bytes.byteLength, format: floppyFormatOfSize(bytes.byteLength)! };
}
