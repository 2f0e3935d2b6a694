// Reading and writing qcow2 images (versions 2 and 3) with backing files, compressed and zero
// clusters, copy-on-write after snapshots and exact refcounts (spec: QEMU docs/interop/qcow2.txt).
import { realpath } from 'node:fs/promises';
import nodePath from 'node:path';
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';
import type { DiskImage } from './disk-image';
import { ioError, openImageFile, readAt, readFully } from './image-file';
import { assertQcow2Openable, HEADER_FIELD, QCOW2_MAGIC, readQcow2Header, type Qcow2Header } from './qcow2-header';
import { Qcow2Metadata, type L2Entry, type Release } from './qcow2-metadata';
import {
  applySnapshot,
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  readSnapshotTable,
  type CreateSnapshotOptions,
  type Qcow2Snapshot,
} from './qcow2-snapshots';
import { validateQcow2 } from './qcow2-validate';
import { checkRange, RawImage } from './raw-image';
import { ReadWriteLock } from './rw-lock';

/** Options for {@link Qcow2Image.open}. */
export interface Qcow2OpenOptions {
  /** Open without write access (default false). Backing files are always opened read-only. */
  readonly readOnly?: boolean;
  /**
   * Maps the backing file name stored in an image to a path to open. The default resolves a
   * relative name against the folder of the image that names it, as QEMU does.
   */
  readonly openBacking?: (name: string, imagePath: string) => string;
  /** L2 tables kept in memory (default 64; with 64 KiB clusters that maps 32 GiB of disk). */
  readonly l2CacheTables?: number;
}

/** Backing chains longer than this are refused (they are almost certainly a loop). */
const MAX_BACKING_DEPTH = 16;
const DEFAULT_L2_CACHE = 64;
const REFCOUNT_BLOCK_CACHE = 64;

interface WritePiece {
  readonly position: number;
  readonly data: Uint8Array;
}

/**
 * A qcow2 disk image. Reads run concurrently; writes and snapshot operations run one at a
 * time, in issue order, and a read issued after a write sees it. Memory use is bounded by
 * the L2 and refcount block caches; the disk is never loaded whole.
 *
 * Writes allocate clusters from free space or at the end of the file, copy on write from
 * the backing file, compressed clusters and snapshot-shared clusters, and write in
 * crash-safe order (data, refcounts, L2 tables, L1 table; old clusters are released last),
 * so a crash can leak clusters but never corrupt the image. `flush()` makes it durable.
 */
export class Qcow2Image implements DiskImage {
  readonly path: string;
  readonly readOnly: boolean;
  readonly clusterSize: number;
  /** qcow2 version: 2 (compat 0.10) or 3 (compat 1.1). */
  readonly version: number;
  /** Backing file name as stored in the image, or null. */
  readonly backingFile: string | null;
  /** The opened backing image, or null. */
  readonly backing: DiskImage | null;
  readonly #meta: Qcow2Metadata;
  readonly #lock = new ReadWriteLock();
  #closed = false;
  #failed: AppError | null = null;
  #autoclearPending: boolean;
  #inflated: { host: number; data: Buffer } | null = null;

  private constructor(
    path: string,
    readOnly: boolean,
    header: Qcow2Header,
    meta: Qcow2Metadata,
    backing: DiskImage | null,
  ) {
    this.path = path;
    this.readOnly = readOnly;
    this.clusterSize = header.clusterSize;
    this.version = header.version;
    this.backingFile = header.backingFile;
    this.backing = backing;
    this.#meta = meta;
    this.#autoclearPending = header.version === 3 && header.autoclearFeatures !== 0n;
  }

  /** Size of the disk as the guest sees it (changes only when a snapshot of another size is applied). */
  get virtualSize(): number {
    return this.#meta.virtualSize;
  }

  /**
   * Opens and checks a qcow2 image, and its backing chain. The check reads every L1 and L2
   * table and refuses a damaged image (AppError INVALID_ARGUMENT saying what is wrong) before
   * anything is written; images with the dirty or corrupt bit, unknown incompatible features
   * or unsupported ones (encryption, external data files, subclusters, zstd) are refused too.
   * Missing files are NOT_FOUND, permission problems INACCESSIBLE.
   */
  static open(path: string, options: Qcow2OpenOptions = {}): Promise<Qcow2Image> {
    return Qcow2Image.#open(path, options, []);
  }

  static async #open(path: string, options: Qcow2OpenOptions, chain: string[]): Promise<Qcow2Image> {
    const readOnly = options.readOnly ?? false;
    const fh = await openImageFile(path, readOnly);
    let backing: DiskImage | null = null;
    try {
      const fileSize = (await fh.stat()).size;
      const header = await readQcow2Header(fh, path, fileSize);
      assertQcow2Openable(header, path);
      const snapshots = await readSnapshotTable(fh, path, header, fileSize);
      await validateQcow2(fh, path, header, fileSize, snapshots);
      const meta = await Qcow2Metadata.load(fh, path, header, fileSize, snapshots, {
        l2Tables: Math.max(4, options.l2CacheTables ?? DEFAULT_L2_CACHE),
        refcountBlocks: REFCOUNT_BLOCK_CACHE,
      });
      if (header.backingFile !== null) backing = await Qcow2Image.#openBacking(path, header, options, chain);
      return new Qcow2Image(path, readOnly, header, meta, backing);
    } catch (err) {
      await backing?.close();
      await fh.close();
      throw ioError(path, 'open', err);
    }
  }

  static async #openBacking(
    imagePath: string,
    header: Qcow2Header,
    options: Qcow2OpenOptions,
    chain: string[],
  ): Promise<DiskImage> {
    const name = header.backingFile!;
    const path = options.openBacking
      ? options.openBacking(name, imagePath)
      : nodePath.resolve(nodePath.dirname(imagePath), name);
    const real = await realpath(path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AppError('NOT_FOUND', `The backing file ${path} of ${imagePath} does not exist.`);
      }
      throw ioError(path, 'open', err);
    });
    const seen = [...chain, await realpath(imagePath)];
    if (seen.includes(real) || seen.length >= MAX_BACKING_DEPTH) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `The backing chain of ${imagePath} loops or is too long (${[...seen, real].join(' → ')}).`,
      );
    }
    const format = header.backingFormat ?? ((await probeIsQcow2(path)) ? 'qcow2' : 'raw');
    if (format === 'raw') return RawImage.open(path, { readOnly: true });
    if (format !== 'qcow2') {
      throw new AppError(
        'UNSUPPORTED',
        `The backing file ${path} of ${imagePath} is in format "${format}" (only qcow2 and raw are supported).`,
      );
    }
    // Backing files are only read; their own backing names resolve the same way.
    return Qcow2Image.#open(path, { ...options, readOnly: true }, seen);
  }

  // ---- Reading -----------------------------------------------------------------------

  /** Reads guest bytes: unallocated clusters come from the backing file (or are zeros). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.#usable();
    checkRange(this.path, this.virtualSize, offset, length);
    return this.#lock.shared(async () => {
      this.#healthy();
      // A snapshot applied in between may have changed the size.
      checkRange(this.path, this.virtualSize, offset, length);
      try {
        return await this.#read(offset, length);
      } catch (err) {
        throw ioError(this.path, 'read', err);
      }
    });
  }

  async #read(offset: number, length: number): Promise<Buffer> {
    const meta = this.#meta;
    const cs = this.clusterSize;
    const out = Buffer.allocUnsafe(length);
    const jobs: Promise<void>[] = [];
    // Consecutive guest clusters that sit back to back in the file become one read.
    let runHost = 0;
    let runAt = 0;
    let runLength = 0;
    const endRun = (): void => {
      if (runLength > 0) jobs.push(readFully(meta.fh, out, runAt, runLength, runHost));
      runLength = 0;
    };
    for (let pos = offset, end = offset + length; pos < end;) {
      const cluster = Math.floor(pos / cs);
      const within = pos - cluster * cs;
      const n = Math.min(cs - within, end - pos);
      const at = pos - offset;
      const e = await this.#lookup(cluster);
      if (e.kind === 'normal') {
        const host = e.host + within;
        if (runLength > 0 && runHost + runLength === host) runLength += n;
        else {
          endRun();
          runHost = host;
          runAt = at;
          runLength = n;
        }
      } else {
        endRun();
        if (e.kind === 'compressed') jobs.push(this.#readCompressed(e.host, e.end, out, at, within, n));
        else if (e.kind === 'unallocated' && this.backing) jobs.push(this.#readBacking(out, at, pos, n));
        else out.fill(0, at, at + n);
      }
      pos += n;
    }
    endRun();
    await Promise.all(jobs);
    return out;
  }

  async #lookup(cluster: number): Promise<L2Entry> {
    const meta = this.#meta;
    const l1i = Math.floor(cluster / meta.l2Entries);
    const l2 = meta.l1Entry(l1i);
    if (l2 === 0) return { kind: 'unallocated' };
    return meta.decode(await meta.l2(l2), cluster - l1i * meta.l2Entries);
  }

  /** Copies backing-file bytes for guest range [pos, pos + n) into `out` at `at` (zeros past its end). */
  async #readBacking(out: Buffer, at: number, pos: number, n: number): Promise<void> {
    const backing = this.backing!;
    const available = Math.max(0, Math.min(n, backing.virtualSize - pos));
    if (available > 0) out.set(await backing.read(pos, available), at);
    if (available < n) out.fill(0, at + available, at + n);
  }

  async #inflate(host: number, end: number): Promise<Buffer> {
    if (this.#inflated?.host === host) return this.#inflated.data;
    const cs = this.clusterSize;
    const compressed = await readAt(this.#meta.fh, end - host, host);
    let data: Buffer;
    try {
      // Spec "Compressed Clusters Descriptor": raw deflate; the last sector may hold trailing bytes.
      data = inflateRawSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: cs });
    } catch (err) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${this.path} is corrupt: the compressed cluster at offset ${host} does not inflate (${(err as Error).message}).`,
      );
    }
    if (data.length < cs) data = Buffer.concat([data, Buffer.alloc(cs - data.length)]);
    this.#inflated = { host, data };
    return data;
  }

  async #readCompressed(host: number, end: number, out: Buffer, at: number, within: number, n: number): Promise<void> {
    const data = await this.#inflate(host, end);
    data.copy(out, at, within, within + n);
  }

  // ---- Writing -----------------------------------------------------------------------

  /** Writes guest bytes (any offset and length inside the virtual size). */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#usable();
    if (this.readOnly) throw new AppError('INVALID_ARGUMENT', `Disk image ${this.path} is open read-only.`);
    checkRange(this.path, this.virtualSize, offset, data.length);
    if (data.length === 0) return;
    return this.#mutate('write', async () => {
      // A snapshot applied in between may have changed the size.
      checkRange(this.path, this.virtualSize, offset, data.length);
      await this.#write(offset, data);
    });
  }

  /**
   * Runs a metadata-changing operation alone. A failure after something changed (in memory or
   * on disk) leaves the image unusable until reopened; one before any change is just thrown.
   */
  #mutate<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.#lock.exclusive(async () => {
      this.#healthy();
      const before = this.#meta.changes;
      try {
        await this.#clearAutoclear();
        return await fn();
      } catch (err) {
        if (this.#meta.changes === before) throw ioError(this.path, what, err);
        const cause = err instanceof Error ? err.message : String(err);
        this.#failed = new AppError(
          'IO',
          `Disk image ${this.path} stopped accepting changes after a failed ${what} (${cause}). ` +
            'Close and reopen it; "qemu-img check" may report leaked clusters, which are harmless.',
        );
        throw ioError(this.path, what, err);
      }
    });
  }

  async #write(offset: number, data: Uint8Array): Promise<void> {
    const meta = this.#meta;
    const cs = this.clusterSize;
    const physicalStart = meta.physicalSize;
    const pieces: WritePiece[] = [];
    const releases: Release[] = [];
    for (let pos = offset, end = offset + data.length; pos < end;) {
      const cluster = Math.floor(pos / cs);
      const within = pos - cluster * cs;
      const n = Math.min(cs - within, end - pos);
      const piece = data.subarray(pos - offset, pos - offset + n);
      const l1i = Math.floor(cluster / meta.l2Entries);
      const index = cluster - l1i * meta.l2Entries;
      const table = await meta.l2ForWrite(l1i, releases);
      const e = meta.decode(table, index);
      if (e.kind === 'normal' && (await meta.refcount(e.host / cs)) === 1) {
        // Spec "== Host cluster management ==": refcount 1 → write in place.
        pieces.push({ position: e.host + within, data: piece });
        if (!e.copied) meta.setL2(table, index, e.host, true);
      } else {
        // Copy on write into a new cluster, merging what the cluster held before.
        const host = (await meta.allocCluster()) * cs;
        const meaningful = Math.min(cs, meta.virtualSize - cluster * cs);
        if (within === 0 && n === meaningful) pieces.push({ position: host, data: piece });
        else {
          const base = await this.#clusterContent(cluster, e);
          if (base === null && host >= physicalStart) {
            // A cluster past the old end of the file reads as zeros already.
            pieces.push({ position: host + within, data: piece });
          } else {
            const full = base ?? Buffer.alloc(cs);
            full.set(piece, within);
            pieces.push({ position: host, data: full });
          }
        }
        meta.setL2(table, index, host, true);
        if (e.kind === 'normal' || (e.kind === 'zero' && e.host !== 0)) {
          releases.push({ start: e.host, end: e.host + 1 });
        } else if (e.kind === 'compressed') {
          releases.push({ start: e.host, end: e.end });
        }
      }
      pos += n;
    }
    // Crash-safe order: data, refcounts, L2 tables, L1 table; then drop old references.
    // A new cluster only partly written may end past the end of the file: the rest reads as
    // zeros (QEMU pads reads past the end of its file the same way), so no truncate is needed.
    await this.#writePieces(pieces);
    await meta.commitAll();
    if (releases.length > 0) {
      for (const r of releases) await meta.release(r);
      await meta.commitRefcounts();
    }
    meta.trimCaches();
  }

  /** What a guest cluster holds before a partial write: a fresh buffer, or null for zeros. */
  async #clusterContent(cluster: number, e: L2Entry): Promise<Buffer | null> {
    const cs = this.clusterSize;
    switch (e.kind) {
      case 'zero':
        return null;
      case 'compressed':
        return Buffer.from(await this.#inflate(e.host, e.end));
      case 'normal':
        return readAt(this.#meta.fh, cs, e.host);
      case 'unallocated': {
        const start = cluster * cs;
        if (!this.backing || start >= this.backing.virtualSize) return null;
        const buf = Buffer.alloc(cs);
        await this.#readBacking(buf, 0, start, Math.min(cs, this.virtualSize - start));
        return buf;
      }
    }
  }

  /** Writes data pieces, merging the ones that are back to back in the file into one writev. */
  async #writePieces(pieces: WritePiece[]): Promise<void> {
    pieces.sort((a, b) => a.position - b.position);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < pieces.length;) {
      const start = pieces[i]!.position;
      const parts = [pieces[i]!.data];
      let end = start + pieces[i]!.data.length;
      for (i++; i < pieces.length && pieces[i]!.position === end && parts.length < 1024; i++) {
        parts.push(pieces[i]!.data);
        end += pieces[i]!.data.length;
      }
      writes.push(this.#meta.writevAt(parts, start));
    }
    await Promise.all(writes);
  }

  /**
   * Spec "== Header ==", autoclear_features: a writer that does not maintain those features
   * (bitmaps) must clear the bits before its first write.
   */
  async #clearAutoclear(): Promise<void> {
    if (!this.#autoclearPending) return;
    await this.#meta.writeAt(Buffer.alloc(8), HEADER_FIELD.autoclearFeatures);
    this.#meta.autoclearFeatures = 0n;
    this.#autoclearPending = false;
  }

  // ---- Snapshots ---------------------------------------------------------------------

  /** The internal snapshots of this image. */
  async listSnapshots(): Promise<Qcow2Snapshot[]> {
    this.#usable();
    return this.#lock.shared(async () => listSnapshots(this.#meta));
  }

  /** Takes a disk-only internal snapshot (see {@link createSnapshot}). */
  async createSnapshot(options: CreateSnapshotOptions): Promise<Qcow2Snapshot> {
    this.#writable();
    return this.#mutate('snapshot', () => createSnapshot(this.#meta, options));
  }

  /** Reverts the disk to a snapshot, by id or name (see {@link applySnapshot}). */
  async applySnapshot(idOrName: string): Promise<Qcow2Snapshot> {
    this.#writable();
    return this.#mutate('snapshot revert', async () => {
      this.#inflated = null;
      return applySnapshot(this.#meta, idOrName);
    });
  }

  /** Deletes a snapshot, by id or name, freeing the clusters only it used. */
  async deleteSnapshot(idOrName: string): Promise<void> {
    this.#writable();
    return this.#mutate('snapshot deletion', async () => {
      this.#inflated = null;
      await deleteSnapshot(this.#meta, idOrName);
    });
  }

  // ---- Lifecycle ---------------------------------------------------------------------

  /** Waits for earlier writes and makes them durable (fsync). */
  async flush(): Promise<void> {
    this.#usable();
    if (this.readOnly) return this.#lock.shared(async () => undefined);
    return this.#lock.exclusive(async () => {
      try {
        await this.#meta.fh.sync();
      } catch (err) {
        throw ioError(this.path, 'flush', err);
      }
    });
  }

  /** Waits for pending operations, closes the file and the backing chain. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lock.exclusive(async () => {
      try {
        await this.#meta.fh.close();
      } finally {
        await this.backing?.close();
      }
    });
  }

  /** Checked when a call is made: operations issued before close() still run. */
  #usable(): void {
    if (this.#closed) throw new Error(`Disk image ${this.path} is closed.`);
    this.#healthy();
  }

  /** Checked again once an operation holds the lock. */
  #healthy(): void {
    if (this.#failed) throw this.#failed;
  }

  #writable(): void {
    this.#usable();
    if (this.readOnly) throw new AppError('INVALID_ARGUMENT', `Disk image ${this.path} is open read-only.`);
  }
}

async function probeIsQcow2(path: string): Promise<boolean> {
  const fh: FileHandle = await openImageFile(path, true);
  try {
    const head = await readAt(fh, 4, 0);
    return head.readUInt32BE(0) === QCOW2_MAGIC;
  } finally {
    await fh.close();
  }
}
