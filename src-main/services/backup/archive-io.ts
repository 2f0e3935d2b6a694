// Streaming the bytes of a VM archive: a double-buffered copy between two files that hashes
// what passes (SHA-256) and reports bytes, and a sequential reader of tar entries over an open
// archive that tells a cut-short or damaged file apart from a good one.
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { AbortSignalLike } from '../../../src-shared/contracts/jobs';
import { AppError, CancelledError } from '../../../src-shared/errors';
import {
  TAR_BLOCK,
  TarFormatError,
  damagedArchive,
  parsePaxRecords,
  parseTarHeader,
  tarPadding,
  type TarEntryType,
} from './tar';

/** Bytes per read and write: two buffers of this size are in flight. */
const CHUNK = 4 * 2 ** 20;
const ZEROS = Buffer.alloc(CHUNK);

export interface PumpOptions {
  readonly from: FileHandle;
  readonly fromPosition: number;
  readonly to: FileHandle;
  readonly toPosition: number;
  readonly size: number;
  readonly hash: Hash;
  /** Leave all-zero chunks unwritten (the file is then sized with truncate): holes stay holes. */
  readonly sparse?: boolean;
  readonly signal?: AbortSignalLike | undefined;
  readonly onBytes?: (n: number) => void;
  /** What was read cut short (the source changed, or the archive ends early). */
  readonly short: (got: number) => Error;
  readonly what: string;
}

async function readFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

async function writeFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Copies `size` bytes, hashing them. The next chunk is read while the last one is written (the
 * reads and writes run on libuv's threads, the hash here), so a copy costs about one pass.
 */
export async function pump(o: PumpOptions): Promise<void> {
  const bufs = [Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, o.size))), Buffer.allocUnsafe(CHUNK)];
  let pending: Promise<void> = Promise.resolve();
  let done = 0;
  let i = 0;
  try {
    while (done < o.size) {
      if (o.signal?.aborted) throw new CancelledError(`${o.what} was cancelled.`);
      let buf = bufs[i]!;
      const len = Math.min(CHUNK, o.size - done);
      if (buf.length < len) buf = bufs[i] = Buffer.allocUnsafe(CHUNK);
      const got = await readFully(o.from, buf, len, o.fromPosition + done);
      if (got < len) throw o.short(done + got);
      o.hash.update(buf.subarray(0, got));
      await pending;
      const at = o.toPosition + done;
      pending =
        o.sparse && buf.subarray(0, got).equals(ZEROS.subarray(0, got))
          ? Promise.resolve()
          : writeFully(o.to, buf, got, at);
      done += got;
      i ^= 1;
      o.onBytes?.(got);
    }
  } catch (err) {
    // The write in flight must end before the caller closes the file.
    await pending.catch(() => undefined);
    throw err;
  }
  await pending;
}

/** One entry as `ArchiveReader.next` returns it: pax records applied, body not yet read. */
export interface ArchiveEntry {
  readonly path: string;
  readonly type: TarEntryType;
  readonly size: number;
  readonly mode: number;
  /** Where the body starts in the archive. */
  readonly bodyPosition: number;
}

/** Sequential reader of a tar archive's entries. */
export class ArchiveReader {
  private position = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
    private readonly fileSize: number,
  ) {}

  /** The error for an archive that ends early. */
  truncated(detail: string): AppError {
    return new AppError(
      'INVALID_ARGUMENT',
      `${this.file} is cut short (${detail}; the file has ${this.fileSize} bytes): a copy or download that did ` +
        'not finish. Nothing was imported. Copy the archive again from where it came from.',
    );
  }

  private async block(): Promise<Buffer> {
    if (this.position + TAR_BLOCK > this.fileSize) {
      throw this.truncated(`a header at byte ${this.position} is missing`);
    }
    const buf = Buffer.alloc(TAR_BLOCK);
    await readFully(this.fh, buf, TAR_BLOCK, this.position);
    this.position += TAR_BLOCK;
    return buf;
  }

  private async smallBody(size: number, what: string): Promise<Buffer> {
    if (size > 2 ** 20) throw damagedArchive(this.file, `its ${what} is ${size} bytes, too large to be one`);
    this.checkBody(size, what);
    const buf = Buffer.alloc(size);
    await readFully(this.fh, buf, size, this.position);
    this.position += size + tarPadding(size);
    return buf;
  }

  private checkBody(size: number, what: string): void {
    if (this.position + size > this.fileSize) {
      throw this.truncated(`${what} needs ${size} bytes from byte ${this.position}`);
    }
  }

  /** The next entry, or null at the archive's end marker. */
  async next(): Promise<ArchiveEntry | null> {
    let pax: Record<string, string> = {};
    for (;;) {
      const at = this.position;
      let header;
      try {
        header = parseTarHeader(await this.block());
      } catch (err) {
        if (err instanceof TarFormatError) throw damagedArchive(this.file, `the header at byte ${at}: ${err.message}`);
        throw err;
      }
      if (header === null) return null;
      if (header.typeflag === 'x') {
        pax = parsePax(this.file, await this.smallBody(header.size, 'extended header'));
        continue;
      }
      if (header.typeflag === 'g') {
        await this.smallBody(header.size, 'global header');
        continue;
      }
      const type: TarEntryType | null = header.typeflag === '0' ? 'file' : header.typeflag === '5' ? 'folder' : null;
      const entryPath = (pax['path'] ?? header.path).replace(/\/$/, '');
      if (type === null) {
        throw damagedArchive(
          this.file,
          `it holds ${entryPath}, a link or special file (tar type ${JSON.stringify(header.typeflag)}), which a Maru archive never has`,
        );
      }
      const size = pax['size'] !== undefined ? Number(pax['size']) : header.size;
      if (!Number.isSafeInteger(size) || size < 0) throw damagedArchive(this.file, `${entryPath} has a bad size`);
      const entry = {
        path: entryPath,
        type,
        size: type === 'folder' ? 0 : size,
        mode: header.mode,
        bodyPosition: this.position,
      };
      this.checkBody(entry.size, entryPath);
      this.position += entry.size + tarPadding(entry.size);
      return entry;
    }
  }

  /** Reads a small entry's body (the manifest, SHA256SUMS). */
  async readBody(entry: ArchiveEntry): Promise<Buffer> {
    const buf = Buffer.alloc(entry.size);
    const got = await readFully(this.fh, buf, entry.size, entry.bodyPosition);
    if (got < entry.size) throw this.truncated(`${entry.path} ends early`);
    return buf;
  }
}

function parsePax(file: string, body: Buffer): Record<string, string> {
  try {
    return parsePaxRecords(body);
  } catch (err) {
    if (err instanceof TarFormatError) throw damagedArchive(file, err.message);
    throw err;
  }
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
