// Raw disk images (ISOs, flat disks, raw backing files): the file's bytes are the disk.
// Reads and writes are ordered by a readers-writer lock so overlapping requests stay in order.
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';
import type { DiskImage } from './disk-image';
import { ioError, openImageFile, readFully, writeFully } from './image-file';
import { ReadWriteLock } from './rw-lock';

/** Options for {@link RawImage.open}. */
export interface RawOpenOptions {
  /** Open without write access (the default for ISOs); writes then fail. */
  readonly readOnly?: boolean;
}

/** A raw image file: guest offset = file offset; the virtual size is the file size. */
export class RawImage implements DiskImage {
  readonly path: string;
  readonly virtualSize: number;
  readonly readOnly: boolean;
  readonly #fh: FileHandle;
  readonly #lock = new ReadWriteLock();
  #closed = false;

  private constructor(path: string, fh: FileHandle, size: number, readOnly: boolean) {
    this.path = path;
    this.#fh = fh;
    this.virtualSize = size;
    this.readOnly = readOnly;
  }

  /** Opens a raw image. Throws AppError NOT_FOUND / INACCESSIBLE / IO. */
  static async open(path: string, options: RawOpenOptions = {}): Promise<RawImage> {
    const readOnly = options.readOnly ?? false;
    const fh = await openImageFile(path, readOnly);
    try {
      const { size } = await fh.stat();
      return new RawImage(path, fh, size, readOnly);
    } catch (err) {
      await fh.close();
      throw ioError(path, 'inspect', err);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.#check(offset, length);
    return this.#lock.shared(async () => {
      const buf = Buffer.allocUnsafe(length);
      try {
        await readFully(this.#fh, buf, 0, length, offset);
      } catch (err) {
        throw ioError(this.path, 'read', err);
      }
      return buf;
    });
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#check(offset, data.length);
    if (this.readOnly) throw new AppError('INVALID_ARGUMENT', `Disk image ${this.path} is open read-only.`);
    return this.#lock.exclusive(async () => {
      try {
        await writeFully(this.#fh, data, offset);
      } catch (err) {
        throw ioError(this.path, 'write', err);
      }
    });
  }

  async flush(): Promise<void> {
    if (this.#closed) throw new Error(`Disk image ${this.path} is closed.`);
    return this.#lock.exclusive(async () => {
      if (this.readOnly) return;
      try {
        await this.#fh.sync();
      } catch (err) {
        throw ioError(this.path, 'flush', err);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lock.exclusive(() => this.#fh.close());
  }

  #check(offset: number, length: number): void {
    if (this.#closed) throw new Error(`Disk image ${this.path} is closed.`);
    checkRange(this.path, this.virtualSize, offset, length);
  }
}

/** Throws AppError INVALID_ARGUMENT unless [offset, offset + length) lies inside a disk of `size` bytes. */
export function checkRange(path: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new AppError('INVALID_ARGUMENT', `Bad disk range for ${path}: offset ${offset}, length ${length}.`);
  }
  if (offset + length > size) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `Disk range ${offset}..${offset + length} is past the end of ${path} (${size} bytes).`,
    );
  }
}
