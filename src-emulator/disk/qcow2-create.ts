// Creating empty, sparse qcow2 (version 3) images in pure TypeScript, and reading the
// basic facts out of any qcow2 header. Spec: QEMU docs/interop/qcow2.txt ("the spec").
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { AppError, CancelledError } from '../../src-shared/errors';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import { createNewFile } from '../../src-node/file-presence';

/** Facts from a qcow2 header. */
export interface Qcow2Info {
  /** Header version: 2 (compat 0.10) or 3 (compat 1.1). */
  readonly version: number;
  /** Virtual disk size in bytes, as the guest sees it. */
  readonly virtualSize: number;
  readonly clusterSize: number;
  /** The backing file name as stored in the image (may be relative to the image), or null. */
  readonly backingFile: string | null;
}

/** What `createQcow2` made. */
export interface Qcow2CreateResult {
  /** Virtual size written to the header: the request rounded up to a multiple of 512. */
  readonly virtualSize: number;
  /** Apparent file length (most of it is a hole). */
  readonly fileLength: number;
}

// Spec "== Header ==": magic "QFI\xfb".
const QCOW2_MAGIC = 0x514649fb;
const CLUSTER_BITS = 16;
const CLUSTER_SIZE = 1 << CLUSTER_BITS;
// Spec "== Header ==", bytes 96-99: refcount_bits = 1 << refcount_order; 4 → 16-bit refcounts.
const REFCOUNT_ORDER = 4;
const REFCOUNT_BYTES = (1 << REFCOUNT_ORDER) / 8;
// Spec "== Header ==", bytes 100-103: at least 104 for version 3, a multiple of 8.
const HEADER_LENGTH_V3 = 104;
const HEADER_LENGTH_V2 = 72;
// Spec "== Cluster mapping ==": l2_entries = cluster_size / sizeof(uint64_t).
const L2_ENTRIES = CLUSTER_SIZE / 8;
const BYTES_PER_L1_ENTRY = CLUSTER_SIZE * L2_ENTRIES;
// Spec "== Header ==", size note: QEMU limits the L1 table to 32 MiB (4 Mi entries).
const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;
const SECTOR = 512;
// Spec "== Header ==", bytes 16-19: a backing file name is at most 1023 bytes.
const MAX_BACKING_NAME = 1023;

/**
 * Largest virtual size `createQcow2` accepts: what QEMU can address with 64 KiB clusters
 * and its 32 MiB L1 table limit (2 PiB).
 */
export const QCOW2_MAX_VIRTUAL_SIZE = MAX_L1_ENTRIES * BYTES_PER_L1_ENTRY;

function throwIfAborted(signal: JobOptions['signal']): void {
  if (signal?.aborted) throw new CancelledError('Disk creation was cancelled.');
}

/**
 * Creates an empty qcow2 version 3 image at `path` with the given virtual size (rounded
 * up to a multiple of 512 bytes, as qemu-img does). The file must not exist: it is opened
 * exclusively and never overwritten (AppError ALREADY_EXISTS). The image is sparse: only
 * the header and the refcount structures take host blocks. On failure or cancellation the
 * partial file is removed; cancellation throws CancelledError.
 *
 * Layout (cluster = 64 KiB): 0 header (+ extension terminator), 1 refcount table,
 * 2 refcount block, 3.. L1 table (all entries zero: nothing allocated).
 */
export async function createQcow2(path: string, sizeBytes: number, job: JobOptions = {}): Promise<Qcow2CreateResult> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new AppError('INVALID_ARGUMENT', `A disk size must be a positive whole number of bytes (got ${sizeBytes}).`);
  }
  const virtualSize = Math.ceil(sizeBytes / SECTOR) * SECTOR;
  if (virtualSize > QCOW2_MAX_VIRTUAL_SIZE) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `A disk of ${virtualSize} bytes is larger than the qcow2 limit of ${QCOW2_MAX_VIRTUAL_SIZE} bytes (2 PiB).`,
    );
  }
  const { onProgress, signal } = job;
  throwIfAborted(signal);

  const l1Entries = Math.ceil(virtualSize / BYTES_PER_L1_ENTRY);
  const l1Clusters = Math.ceil((l1Entries * 8) / CLUSTER_SIZE);
  const refcountTableOffset = CLUSTER_SIZE;
  const refcountBlockOffset = 2 * CLUSTER_SIZE;
  const l1Offset = 3 * CLUSTER_SIZE;
  const metadataClusters = 3 + l1Clusters;
  // One refcount block covers cluster_size * 8 / refcount_bits clusters (spec "== Host
  // cluster management =="): 32768 clusters here, far more than the at most 515 we use.
  const fileLength = metadataClusters * CLUSTER_SIZE;

  const header = Buffer.alloc(HEADER_LENGTH_V3 + 8);
  header.writeUInt32BE(QCOW2_MAGIC, 0);
  header.writeUInt32BE(3, 4); // version
  header.writeBigUInt64BE(0n, 8); // backing_file_offset: no backing file
  header.writeUInt32BE(0, 16); // backing_file_size
  header.writeUInt32BE(CLUSTER_BITS, 20);
  header.writeBigUInt64BE(BigInt(virtualSize), 24);
  header.writeUInt32BE(0, 32); // crypt_method: none
  header.writeUInt32BE(l1Entries, 36);
  header.writeBigUInt64BE(BigInt(l1Offset), 40);
  header.writeBigUInt64BE(BigInt(refcountTableOffset), 48);
  header.writeUInt32BE(1, 56); // refcount_table_clusters
  header.writeUInt32BE(0, 60); // nb_snapshots
  header.writeBigUInt64BE(0n, 64); // snapshots_offset
  header.writeBigUInt64BE(0n, 72); // incompatible_features
  header.writeBigUInt64BE(0n, 80); // compatible_features
  header.writeBigUInt64BE(0n, 88); // autoclear_features
  header.writeUInt32BE(REFCOUNT_ORDER, 96);
  header.writeUInt32BE(HEADER_LENGTH_V3, 100);
  // Spec "=== Header extensions ===": type 0, length 0 ends the (empty) extension area.
  header.writeUInt32BE(0, 104);
  header.writeUInt32BE(0, 108);

  // Spec "== Host cluster management ==": refcount table entry 0 points at the block.
  const refcountTable = Buffer.alloc(8);
  refcountTable.writeBigUInt64BE(BigInt(refcountBlockOffset), 0);
  const refcountBlock = Buffer.alloc(metadataClusters * REFCOUNT_BYTES);
  for (let i = 0; i < metadataClusters; i++) refcountBlock.writeUInt16BE(1, i * REFCOUNT_BYTES);

  const fh = await createNewFile(path, 'Maru never overwrites a disk image.');
  let closed = false;
  try {
    const steps: [Buffer, number][] = [
      [header, 0],
      [refcountTable, refcountTableOffset],
      [refcountBlock, refcountBlockOffset],
    ];
    onProgress?.({ phase: 'disk', fraction: 0 });
    let done = 0;
    for (const [buf, pos] of steps) {
      throwIfAborted(signal);
      await fh.write(buf, 0, buf.length, pos);
      onProgress?.({ phase: 'disk', fraction: ++done / (steps.length + 1) });
    }
    throwIfAborted(signal);
    // The L1 table and the rest of every metadata cluster are zero: leave them as a hole.
    await fh.truncate(fileLength);
    await fh.sync();
    throwIfAborted(signal);
    closed = true;
    await fh.close();
    onProgress?.({ phase: 'disk', fraction: 1 });
    return { virtualSize, fileLength };
  } catch (err) {
    // Remove the partial file this call created; a failure to do so is reported with the cause.
    let leftover = '';
    if (!closed) await fh.close().catch((closeErr: unknown) => (leftover = ` (closing failed: ${String(closeErr)})`));
    await unlink(path).catch((unlinkErr: unknown) => {
      if ((unlinkErr as NodeJS.ErrnoException).code !== 'ENOENT') {
        leftover += ` The partial file ${path} could not be removed: ${(unlinkErr as Error).message}`;
      }
    });
    if (err instanceof AppError) {
      if (!leftover) throw err;
      throw new AppError(err.code, err.message + leftover, err.details);
    }
    throw new AppError('IO', `Cannot write ${path}: ${(err as Error).message}${leftover}`);
  }
}

function notQcow2(path: string, why: string): AppError {
  return new AppError('INVALID_ARGUMENT', `${path} is not a usable qcow2 image: ${why}`);
}

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

function safeNumber(path: string, v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw notQcow2(path, `its ${what} (${v}) is implausibly large.`);
  return Number(v);
}

/**
 * Reads version, virtual size, cluster size and backing file from a qcow2 header (spec
 * "== Header =="). Throws AppError INVALID_ARGUMENT for a file that is not qcow2 or is
 * truncated, NOT_FOUND when it does not exist, IO when it cannot be read.
 */
export async function readQcow2Info(path: string): Promise<Qcow2Info> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `Disk image ${path} does not exist.`);
    throw new AppError('IO', `Cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const fileSize = (await fh.stat()).size;
    const head = await readAt(fh, HEADER_LENGTH_V3, 0);
    if (head.length < 4 || head.readUInt32BE(0) !== QCOW2_MAGIC) {
      throw notQcow2(path, 'it does not start with the qcow2 magic "QFI\\xfb".');
    }
    if (head.length < HEADER_LENGTH_V2) {
      throw notQcow2(path, `the file is truncated (${fileSize} bytes, shorter than a qcow2 header).`);
    }
    const version = head.readUInt32BE(4);
    if (version !== 2 && version !== 3) throw notQcow2(path, `qcow2 version ${version} is not supported (2 or 3).`);
    if (version === 3) {
      if (head.length < HEADER_LENGTH_V3) {
        throw notQcow2(path, `the file is truncated (${fileSize} bytes, shorter than a version 3 header).`);
      }
      const headerLength = head.readUInt32BE(100);
      if (headerLength < HEADER_LENGTH_V3 || headerLength % 8 !== 0) {
        throw notQcow2(path, `its header_length ${headerLength} is invalid (at least 104, a multiple of 8).`);
      }
    }
    const clusterBits = head.readUInt32BE(20);
    // Spec: cluster_bits must be at least 9; QEMU supports at most 2 MiB clusters (21).
    if (clusterBits < 9 || clusterBits > 21) throw notQcow2(path, `its cluster_bits ${clusterBits} is out of range.`);
    const virtualSize = safeNumber(path, head.readBigUInt64BE(24), 'virtual size');
    const l1Size = head.readUInt32BE(36);
    const l1Offset = safeNumber(path, head.readBigUInt64BE(40), 'L1 table offset');
    if (l1Size > 0 && l1Offset + l1Size * 8 > fileSize) {
      throw notQcow2(path, `the file is truncated (${fileSize} bytes; its L1 table ends at ${l1Offset + l1Size * 8}).`);
    }
    let backingFile: string | null = null;
    const backingOffset = safeNumber(path, head.readBigUInt64BE(8), 'backing file offset');
    if (backingOffset !== 0) {
      const backingSize = head.readUInt32BE(16);
      if (backingSize === 0 || backingSize > MAX_BACKING_NAME) {
        throw notQcow2(path, `its backing file name length ${backingSize} is invalid (1 to ${MAX_BACKING_NAME}).`);
      }
      const name = await readAt(fh, backingSize, backingOffset);
      if (name.length < backingSize) throw notQcow2(path, 'the file is truncated inside the backing file name.');
      backingFile = name.toString('utf8');
    }
    return { version, virtualSize, clusterSize: 2 ** clusterBits, backingFile };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('IO', `Cannot read ${path}: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
}
