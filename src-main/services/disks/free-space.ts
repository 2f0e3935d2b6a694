// Free space on the host disk that holds a path (statfs of its nearest existing folder), and
// the one wording of "this sparse disk may grow past the free space" shared by creating a VM
// and growing a disk: a warning with both figures, never a refusal.
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../../../src-shared/format-bytes';

export interface FreeSpace {
  /** The existing folder statfs was asked about. */
  readonly folder: string;
  /** Bytes an unprivileged user may still write there. */
  readonly freeBytes: number;
}

/** Free space where `p` is or would be created; null when no folder on its way can be read. */
export async function freeSpaceAt(p: string): Promise<FreeSpace | null> {
  let folder = path.resolve(p);
  for (;;) {
    try {
      const s = await statfs(folder);
      return { folder, freeBytes: s.bavail * s.bsize };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = path.dirname(folder);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === folder) return null;
      folder = parent;
    }
  }
}

/** "1.5 GiB (1610612736 bytes)": the readable size with the exact count. */
export function bytesWithCount(bytes: number): string {
  return `${formatBytes(bytes)} (${bytes} bytes)`;
}

/**
 * The warning for a sparse disk whose virtual size is more than the free space where it lives
 * (null when it fits): the guest sees the whole size, and its writes fail once the host disk
 * fills — so the user hears it now, with both figures.
 */
export function sparseDiskWarning(virtualBytes: number, free: FreeSpace | null): string | null {
  if (!free || virtualBytes <= free.freeBytes) return null;
  return (
    `The disk's size, ${formatBytes(virtualBytes)}, is more than the ${formatBytes(free.freeBytes)} free on the ` +
    `host disk holding ${free.folder}. It starts small and grows as the guest writes, but once that host disk ` +
    'is full the guest gets write errors (QEMU pauses it). Free some space there, or choose a smaller size.'
  );
}
