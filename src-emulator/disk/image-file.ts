// Opening disk image files and positional I/O on them: whole-range reads (zeros past the end
// of the file), whole-range writes, and fs errors turned into AppErrors that name the file.
import { open, type FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';

/** Opens `path` for reading, or reading and writing; a missing or unreadable file is an AppError. */
export async function openImageFile(path: string, readOnly: boolean): Promise<FileHandle> {
  try {
    return await open(path, readOnly ? 'r' : 'r+');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `Disk image ${path} does not exist.`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new AppError(
        'INACCESSIBLE',
        `Disk image ${path} cannot be opened ${readOnly ? 'for reading' : 'for writing'}: ${(err as Error).message}. ` +
          'Check the file permissions.',
      );
    }
    throw ioError(path, 'open', err);
  }
}

/** An fs failure as AppError IO; AppErrors pass through unchanged. */
export function ioError(path: string, what: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('IO', `Cannot ${what} disk image ${path}: ${message}`);
}

/**
 * Fills `buf[at, at + length)` from file position `position`. Bytes past the end of the file
 * read as zeros (qcow2 allows a last cluster that the file does not fully cover).
 */
export async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  at: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, at + done, length - done, position + done);
    if (bytesRead === 0) {
      buf.fill(0, at + done, at + length);
      return;
    }
    done += bytesRead;
  }
}

/** Reads `length` bytes at `position` into a new buffer (zeros past the end of the file). */
export async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  await readFully(fh, buf, 0, length, position);
  return buf;
}

/** Writes all of `data` at `position`. */
export async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Writes the buffers back to back starting at `position` (one writev when the kernel takes it all). */
export async function writevFully(fh: FileHandle, parts: readonly Uint8Array[], position: number): Promise<void> {
  if (parts.length === 1) return writeFully(fh, parts[0]!, position);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const { bytesWritten } = await fh.writev(parts as Uint8Array[], position);
  if (bytesWritten >= total) return;
  // Short writev: write the rest piece by piece.
  let skip = bytesWritten;
  let pos = position + bytesWritten;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const rest = p.subarray(skip);
    skip = 0;
    await writeFully(fh, rest, pos);
    pos += rest.length;
  }
}
