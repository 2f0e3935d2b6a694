// Atomic file replacement: write a temporary file in the same folder, fsync it, rename it
// over the target, fsync the folder. Readers see the old or the new file, never a mix.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a newly created file (default 0o644, before umask). */
  readonly mode?: number;
}

/**
 * Replaces `file` with `data` atomically and durably. The temporary file
 * (`.<name>.<random>.tmp`) is removed again when anything fails.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch((unlinkErr: unknown) => {
      if ((unlinkErr as NodeJS.ErrnoException).code !== 'ENOENT') {
        (err as Error).message += ` (and the temporary file ${tmp} could not be removed)`;
      }
    });
    throw err;
  }
  await fsyncFolder(dir);
}

/**
 * Flushes a folder's entries (a rename or a new file in it) to disk. A no-op on Windows,
 * where folders cannot be opened and NTFS journals renames itself.
 */
export async function fsyncFolder(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
