// Checks that a file is an ISO 9660 image (ECMA-119) before it goes into a CD/DVD drive:
// the primary volume descriptor's "CD001" at byte 32769 and a volume no larger than the file.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';

/** System area (16 sectors of 2048 bytes) before the first volume descriptor (ECMA-119 §6.2.1). */
const DESCRIPTOR_OFFSET = 16 * 2048;

export interface IsoInfo {
  readonly path: string;
  readonly sizeBytes: number;
  /** Volume space size × logical block size from the primary volume descriptor. */
  readonly volumeBytes: number;
  readonly volumeId: string;
}

/**
 * Reads the first volume descriptor of `file` (opened read-only; never written). Throws
 * AppError: NOT_FOUND when missing, INVALID_ARGUMENT when not a regular file, not ISO 9660,
 * or shorter than its volume says (truncated download).
 */
export async function inspectIso(file: string): Promise<IsoInfo> {
  const abs = path.resolve(file);
  let fh;
  try {
    fh = await open(abs, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AppError('NOT_FOUND', `The ISO file ${abs} does not exist.`, { path: abs });
    }
    throw new AppError('IO', `Cannot read the ISO file ${abs}: ${(err as Error).message}`, { path: abs });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new AppError('INVALID_ARGUMENT', `${abs} is not a regular file, so it cannot be a CD/DVD image.`);
    const pvd = Buffer.alloc(2048);
    const { bytesRead } = await fh.read(pvd, 0, pvd.length, DESCRIPTOR_OFFSET);
    const notIso = (why: string): AppError =>
      new AppError(
        'INVALID_ARGUMENT',
        `${abs} is not a CD/DVD image (ISO 9660): ${why}. Choose an .iso file — a disk image (.img, .qcow2, ` +
          '.vdi) must be attached as a disk instead.',
        { path: abs },
      );
    if (bytesRead < 2048) throw notIso(`the file is only ${st.size} bytes`);
    // ECMA-119 §8.1: type (1 = primary), "CD001", version 1.
    if (pvd.toString('latin1', 1, 6) !== 'CD001') throw notIso('no "CD001" volume descriptor at byte 32769');
    let volumeBytes = 0;
    let volumeId = '';
    if (pvd[0] === 1) {
      // §8.4.8 volume space size and §8.4.12 logical block size, both-byte orders (LE first).
      const blocks = pvd.readUInt32LE(80);
      const blockSize = pvd.readUInt16LE(128);
      volumeBytes = blocks * blockSize;
      volumeId = pvd.toString('latin1', 40, 72).trim();
      if (volumeBytes > st.size) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `${abs} is truncated: its ISO 9660 volume is ${volumeBytes} bytes but the file has only ${st.size}. ` +
            'The download or copy did not finish: get the file again.',
          { path: abs },
        );
      }
    }
    return { path: abs, sizeBytes: st.size, volumeBytes, volumeId };
  } finally {
    await fh.close();
  }
}
