// Durable small files for main-side and engine-side code alike: atomic replacement (temp file
// in the same folder, fsync, rename, folder fsync), JSON on top of it, and reading JSON back
// tolerantly. Readers see the old or the new file, never a mix.
import { readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a newly created file (default 0o644, before umask). */
  readonly mode?: number;
}

/**
 * Replaces `file` with `data` atomically and durably. The temporary file
 * (`.<name>.<random>.tmp`, next to `file`) is removed again when anything fails, and the old
 * content of `file` is then untouched.
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

/** Writes `value` as indented JSON to `file` atomically (mode 0o600 by default: run files are private). */
export async function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', { mode });
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

/** Parses a JSON file, or returns null when it is missing or not valid JSON (e.g. caught half-written by hand). */
export function readJsonSync<T>(file: string): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}
