// Presence of files for main-side and engine-side code alike: whether a path exists, and
// creating a file only where none is (Maru never overwrites a disk image or a copy's target).
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../src-shared/errors';

/** True when `p` exists; false when it does not (ENOENT). Any other failure (EACCES …) is thrown. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Creates `file` and opens it for writing, never replacing one: an existing file is
 * ALREADY_EXISTS ("<file> already exists; <why>"), any other failure IO.
 */
export async function createNewFile(file: string, why: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AppError('ALREADY_EXISTS', `${file} already exists; ${why}`);
    }
    throw new AppError('IO', `Cannot create ${file}: ${(err as Error).message}`);
  }
}

/**
 * A file the user named (an ISO, a floppy image): its absolute path and size. NOT_FOUND ("<what>
 * <abs> does not exist", with the path) or IO when it cannot be read; INVALID_ARGUMENT ("<abs>
 * is not a regular file<notFile>") when it is a folder or a device.
 */
export async function statUserFile(
  file: string,
  what: string,
  notFile: string,
): Promise<{ abs: string; size: number }> {
  const abs = path.resolve(file);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AppError('NOT_FOUND', `${what} ${abs} does not exist.`, { path: abs });
    }
    throw new AppError('IO', `Cannot read ${what.replace(/^The /, 'the ')} ${abs}: ${(err as Error).message}`, {
      path: abs,
    });
  }
  if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `${abs} is not a regular file${notFile}.`, { path: abs });
  return { abs, size: st.size };
}
