// Copying disk images (and other large files) so that the copy stays sparse: all-zero
// 4 KiB blocks are skipped, leaving holes. Progress in bytes, cancellable.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { AppError, CancelledError } from '../../../src-shared/errors';
import type { AbortSignalLike } from '../../../src-shared/contracts/jobs';
import { createNewFile } from '../../../src-node/file-presence';

/**
 * Granularity of hole detection: the usual file-system block. Finer than the 64 KiB qcow2
 * cluster because qcow2 metadata clusters are themselves sparse (a 64 KiB header cluster
 * holding 4 KiB of data); skipping only whole zero clusters would allocate them in full.
 */
export const SPARSE_CHUNK = 4 * 1024;
/** Bytes read per call (a whole number of chunks). */
const READ_SIZE = 256 * SPARSE_CHUNK;
const ZERO_CHUNK = Buffer.alloc(SPARSE_CHUNK);

export interface SparseCopyOptions {
  /** Called after each read with the bytes of this file done so far. */
  readonly onBytes?: (done: number, total: number) => void;
  readonly signal?: AbortSignalLike;
}

/**
 * Copies `src` to `dst` (which must not exist: ALREADY_EXISTS), writing only non-zero 64 KiB
 * chunks and setting the length with ftruncate, so zero ranges stay holes. fsyncs the copy.
 * On failure or cancellation (CancelledError) the partial copy is removed. Returns the
 * number of bytes copied (the source length).
 */
export async function copyFileSparse(src: string, dst: string, options: SparseCopyOptions = {}): Promise<number> {
  const { onBytes, signal } = options;
  if (signal?.aborted) throw new CancelledError('Copy cancelled.');
  let input: FileHandle;
  try {
    input = await open(src, 'r');
  } catch (err) {
    throw ioError(`Cannot open ${src}`, err);
  }
  try {
    const output = await createNewFile(dst, 'a copy never overwrites a file.');
    let failed = false;
    try {
      const total = (await input.stat()).size;
      const buf = Buffer.alloc(READ_SIZE);
      let pos = 0;
      while (pos < total) {
        if (signal?.aborted) throw new CancelledError('Copy cancelled.');
        const { bytesRead } = await input.read(buf, 0, Math.min(READ_SIZE, total - pos), pos);
        if (bytesRead === 0) break; // the source shrank while we read it
        // Write each run of non-zero chunks with one call; zero chunks stay holes.
        let runStart = -1;
        for (let off = 0; off < bytesRead; off += SPARSE_CHUNK) {
          const len = Math.min(SPARSE_CHUNK, bytesRead - off);
          const zero = buf.subarray(off, off + len).equals(ZERO_CHUNK.subarray(0, len));
          if (!zero && runStart < 0) runStart = off;
          if (zero && runStart >= 0) {
            await output.write(buf, runStart, off - runStart, pos + runStart);
            runStart = -1;
          }
        }
        if (runStart >= 0) await output.write(buf, runStart, bytesRead - runStart, pos + runStart);
        pos += bytesRead;
        onBytes?.(pos, total);
      }
      // Extends the file over trailing zero chunks without allocating them.
      await output.truncate(pos);
      await output.sync();
      return pos;
    } catch (err) {
      failed = true;
      await output.close().catch((closeErr: unknown) => reportCleanup(err, `closing ${dst}`, closeErr));
      await unlink(dst).catch((unlinkErr: unknown) => reportCleanup(err, `removing ${dst}`, unlinkErr));
      throw err instanceof AppError ? err : ioError(`Cannot copy ${src} to ${dst}`, err);
    } finally {
      if (!failed) await output.close();
    }
  } finally {
    await input.close();
  }
}

function ioError(what: string, err: unknown): AppError {
  return new AppError('IO', `${what}: ${(err as Error).message}`);
}

/** Appends a cleanup failure to the error being thrown, so it is not lost. */
function reportCleanup(err: unknown, what: string, cleanupErr: unknown): void {
  if ((cleanupErr as NodeJS.ErrnoException).code === 'ENOENT') return;
  if (err instanceof Error) err.message += ` (${what} failed too: ${(cleanupErr as Error).message})`;
}
