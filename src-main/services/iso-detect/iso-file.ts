// Read-only, positioned reads from an image file with a byte budget: the detector reads
// only the sectors it needs, and a read past the end is a clear "truncated" error.
import { open, type FileHandle } from 'node:fs/promises';
import { AppError } from '../../../src-shared/errors';

/** CD sectors (ISO 9660, El Torito, UDF on optical media) are 2048 bytes. */
export const SECTOR = 2048;

/** A read that ran past the end of the file. */
export class TruncatedError extends AppError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly sizeBytes: number,
    what: string,
  ) {
    super(
      'INVALID_ARGUMENT',
      `${file} is truncated: ${what} lies at byte ${offset}, but the file has only ${sizeBytes} bytes. ` +
        'The download or copy was probably interrupted; get the ISO again.',
      { path: file, offset, sizeBytes },
    );
    this.name = 'TruncatedError';
  }
}

export class IsoFile {
  /** Bytes read so far (the detector stays well under a few MiB). */
  bytesRead = 0;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly sizeBytes: number,
    private readonly budgetBytes: number,
  ) {}

  /** Opens read-only; `budgetBytes` caps the total read (a malformed image cannot make us read gigabytes). */
  static async open(path: string, budgetBytes = 64 * 1024 * 1024): Promise<IsoFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new AppError('NOT_FOUND', `The ISO file ${path} does not exist.`, { path });
      }
      if (code === 'EISDIR') throw new AppError('INVALID_ARGUMENT', `${path} is a folder, not an ISO image.`, { path });
      throw new AppError('IO', `Cannot read ${path}: ${(err as Error).message}`, { path });
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new AppError('INVALID_ARGUMENT', `${path} is a folder, not an ISO image.`, { path });
      if (!st.isFile() && !st.isBlockDevice()) {
        throw new AppError('INVALID_ARGUMENT', `${path} is not a regular file.`, { path });
      }
      return new IsoFile(path, fh, st.size, budgetBytes);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Exactly `length` bytes at `offset`; TruncatedError when the file ends first. */
  async read(offset: number, length: number, what = 'data'): Promise<Buffer> {
    if (offset + length > this.sizeBytes) throw new TruncatedError(this.path, offset, this.sizeBytes, what);
    if (this.bytesRead + length > this.budgetBytes) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${this.path}: the ISO's structures point to more data than a valid image needs (read budget exceeded).`,
      );
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new TruncatedError(this.path, offset + done, this.sizeBytes, what);
      done += bytesRead;
    }
    this.bytesRead += length;
    return buf;
  }

  /** Whole 2048-byte sectors starting at logical block `lba`. */
  sectors(lba: number, count: number, what = 'data'): Promise<Buffer> {
    return this.read(lba * SECTOR, count * SECTOR, what);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
