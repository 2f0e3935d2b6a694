// Parsing and validating the qcow2 header, its extensions and feature bits (spec: QEMU
// docs/interop/qcow2.txt — "== Header ==", "=== Header extensions ===", "== Feature name table ==").
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';
import { ioError, readAt } from './image-file';

// Spec "== Header ==": magic "QFI\xfb".
export const QCOW2_MAGIC = 0x514649fb;
/** Spec "== Header ==": version 2 headers are exactly 72 bytes. */
export const QCOW2_V2_HEADER_LENGTH = 72;
/** Spec "== Header ==": version 3 headers are at least 104 bytes. */
export const QCOW2_V3_HEADER_LENGTH = 104;

/** Byte offsets of the header fields we rewrite (spec "== Header =="). */
export const HEADER_FIELD = {
  size: 24,
  l1Size: 36,
  l1TableOffset: 40,
  refcountTableOffset: 48,
  refcountTableClusters: 56,
  nbSnapshots: 60,
  snapshotsOffset: 64,
  incompatibleFeatures: 72,
  autoclearFeatures: 88,
} as const;

/** Spec "== Header ==", incompatible_features bits. */
export const INCOMPAT = {
  dirty: 1n << 0n,
  corrupt: 1n << 1n,
  externalDataFile: 1n << 2n,
  compressionType: 1n << 3n,
  extendedL2: 1n << 4n,
} as const;
const KNOWN_INCOMPAT =
  INCOMPAT.dirty | INCOMPAT.corrupt | INCOMPAT.externalDataFile | INCOMPAT.compressionType | INCOMPAT.extendedL2;

/** Spec "=== Header extensions ===": extension types. */
export const HEADER_EXTENSION = {
  end: 0x00000000,
  backingFormat: 0xe2792aca,
  featureNames: 0x6803f857,
  bitmaps: 0x23852875,
  encryption: 0x0537be77,
  dataFile: 0x44415441,
} as const;

// Spec "== Header ==", bytes 16-19: a backing file name is at most 1023 bytes.
const MAX_BACKING_NAME = 1023;
// Spec "== Header ==", note on size: QEMU limits the L1 table to 32 MiB.
export const MAX_L1_BYTES = 32 * 1024 * 1024;
// Spec "== Host cluster management ==": QEMU limits the refcount table to 8 MiB.
export const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;
// QEMU's limit on the number of internal snapshots.
export const MAX_SNAPSHOTS = 65536;
// Offsets in qcow2 are at most 56 bits; we handle them as JS numbers, exact up to 2^53.
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** One entry of the feature name table (spec "== Feature name table =="). */
export interface Qcow2FeatureName {
  readonly type: 'incompatible' | 'compatible' | 'autoclear';
  readonly bit: number;
  readonly name: string;
}

/** A header extension as found in the first cluster. */
export interface Qcow2HeaderExtension {
  readonly type: number;
  /** File offset of the extension data. */
  readonly offset: number;
  readonly length: number;
}

/** A parsed and structurally validated qcow2 header. */
export interface Qcow2Header {
  readonly version: 2 | 3;
  /** Backing file name as stored (may be relative to the image's folder), or null. */
  readonly backingFile: string | null;
  /** Backing file format from the header extension ("qcow2", "raw"…), or null when absent. */
  readonly backingFormat: string | null;
  readonly clusterBits: number;
  readonly clusterSize: number;
  readonly virtualSize: number;
  readonly cryptMethod: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: number;
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  /** refcount_bits = 1 << refcountOrder; always 4 for version 2. */
  readonly refcountOrder: number;
  readonly headerLength: number;
  /** 0 = zlib (spec "=== Additional fields ==="). */
  readonly compressionType: number;
  readonly featureNames: readonly Qcow2FeatureName[];
  readonly extensions: readonly Qcow2HeaderExtension[];
  /** External data file name (header extension), or null. */
  readonly dataFile: string | null;
}

const REPAIR_HINT = 'Repair it with "qemu-img check -r all" (after taking a copy) or restore it from a backup.';

/** AppError for an image that is not qcow2 at all. */
export function notQcow2(path: string, why: string): AppError {
  return new AppError('INVALID_ARGUMENT', `${path} is not a qcow2 image: ${why}`);
}

/** AppError for a qcow2 image whose file ends before a structure it needs. */
export function truncatedImage(path: string, what: string, fileSize: number): AppError {
  return new AppError(
    'INVALID_ARGUMENT',
    `${path} is truncated: ${what} past end of file (${fileSize} bytes). The copy is incomplete; restore it from a backup.`,
  );
}

/** AppError for a qcow2 image whose metadata is inconsistent. */
export function corruptImage(path: string, what: string): AppError {
  return new AppError('INVALID_ARGUMENT', `${path} is corrupt: ${what}. ${REPAIR_HINT}`);
}

/** AppError for a valid image using a qcow2 feature this implementation does not handle. */
export function unsupportedImage(path: string, what: string): AppError {
  return new AppError('UNSUPPORTED', `${path} uses ${what}, which Maru's qcow2 driver does not support.`);
}

function u64(path: string, buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64BE(at);
  if (v > BigInt(MAX_OFFSET)) throw corruptImage(path, `its ${what} (${v}) is implausibly large`);
  return Number(v);
}

function describeFeature(header: Pick<Qcow2Header, 'featureNames'>, type: Qcow2FeatureName['type'], bit: number) {
  const named = header.featureNames.find((f) => f.type === type && f.bit === bit);
  return named ? `bit ${bit} ("${named.name}")` : `bit ${bit}`;
}

/**
 * Parses the header at the start of `head` (the first cluster of the file, or as much of it
 * as the file has) and checks it against the spec and the file size: magic, version,
 * cluster_bits, crypt_method, table alignment and extent, refcount_order, unknown
 * incompatible features, header extensions. Throws AppError INVALID_ARGUMENT (not qcow2,
 * truncated, corrupt) or UNSUPPORTED (a valid feature this driver does not implement).
 * Dirty and corrupt bits are reported by {@link assertQcow2Openable}, not here.
 */
export function parseQcow2Header(head: Buffer, fileSize: number, path: string): Qcow2Header {
  if (head.length < 4 || head.readUInt32BE(0) !== QCOW2_MAGIC) {
    throw notQcow2(path, 'it does not start with the qcow2 magic "QFI\\xfb".');
  }
  if (head.length < QCOW2_V2_HEADER_LENGTH) {
    throw truncatedImage(path, `the ${QCOW2_V2_HEADER_LENGTH}-byte header is`, fileSize);
  }
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) {
    throw new AppError(
      'UNSUPPORTED',
      `${path} is a qcow2 version ${version} image; only versions 2 and 3 are supported.`,
    );
  }
  let headerLength = QCOW2_V2_HEADER_LENGTH;
  if (version === 3) {
    if (head.length < QCOW2_V3_HEADER_LENGTH) {
      throw truncatedImage(path, `the ${QCOW2_V3_HEADER_LENGTH}-byte version 3 header is`, fileSize);
    }
    headerLength = head.readUInt32BE(100);
    if (headerLength < QCOW2_V3_HEADER_LENGTH || headerLength % 8 !== 0) {
      throw corruptImage(path, `its header_length ${headerLength} is invalid (at least 104 and a multiple of 8)`);
    }
  }
  const clusterBits = head.readUInt32BE(20);
  // Spec: at least 9; QEMU's implementation limit is 2 MiB clusters (21).
  if (clusterBits < 9 || clusterBits > 21) {
    throw corruptImage(path, `its cluster_bits ${clusterBits} is out of range (9 to 21)`);
  }
  const clusterSize = 2 ** clusterBits;
  if (headerLength > clusterSize) {
    throw corruptImage(path, `its header_length ${headerLength} is larger than a cluster (${clusterSize})`);
  }
  if (head.length < Math.min(clusterSize, fileSize)) {
    throw new Error(`parseQcow2Header needs the whole first cluster (${clusterSize} bytes), got ${head.length}`);
  }
  const virtualSize = u64(path, head, 24, 'virtual size');
  const cryptMethod = head.readUInt32BE(32);
  if (cryptMethod !== 0) {
    throw unsupportedImage(
      path,
      `encryption (crypt_method ${cryptMethod === 1 ? 'AES' : cryptMethod === 2 ? 'LUKS' : cryptMethod})`,
    );
  }
  const l1Size = head.readUInt32BE(36);
  const l1TableOffset = u64(path, head, 40, 'L1 table offset');
  const refcountTableOffset = u64(path, head, 48, 'refcount table offset');
  const refcountTableClusters = head.readUInt32BE(56);
  const nbSnapshots = head.readUInt32BE(60);
  const snapshotsOffset = u64(path, head, 64, 'snapshot table offset');
  const incompatibleFeatures = version === 3 ? head.readBigUInt64BE(72) : 0n;
  const compatibleFeatures = version === 3 ? head.readBigUInt64BE(80) : 0n;
  const autoclearFeatures = version === 3 ? head.readBigUInt64BE(88) : 0n;
  const refcountOrder = version === 3 ? head.readUInt32BE(96) : 4;
  // Spec "=== Additional fields ===": byte 104 is compression_type when header_length covers it.
  const compressionType = version === 3 && headerLength > 104 ? head[104]! : 0;

  // Header extensions: they start right after the header and end at type 0 or at the
  // backing file name (spec "=== Header extensions ===").
  const backingFileOffset = u64(path, head, 8, 'backing file offset');
  const backingFileSize = head.readUInt32BE(16);
  const extensionsEnd = Math.min(backingFileOffset !== 0 ? backingFileOffset : clusterSize, clusterSize, head.length);
  const extensions: Qcow2HeaderExtension[] = [];
  const featureNames: Qcow2FeatureName[] = [];
  let backingFormat: string | null = null;
  let dataFile: string | null = null;
  for (let at = headerLength; at + 8 <= extensionsEnd;) {
    const type = head.readUInt32BE(at);
    if (type === HEADER_EXTENSION.end) break;
    const length = head.readUInt32BE(at + 4);
    const dataAt = at + 8;
    if (dataAt + length > extensionsEnd) {
      throw corruptImage(path, `header extension 0x${type.toString(16)} at offset ${at} runs past the header cluster`);
    }
    if (extensions.some((e) => e.type === type)) {
      throw corruptImage(path, `header extension 0x${type.toString(16)} appears twice`);
    }
    extensions.push({ type, offset: dataAt, length });
    const data = head.subarray(dataAt, dataAt + length);
    if (type === HEADER_EXTENSION.backingFormat) backingFormat = data.toString('utf8');
    else if (type === HEADER_EXTENSION.dataFile) dataFile = data.toString('utf8');
    else if (type === HEADER_EXTENSION.featureNames) {
      for (let e = 0; e + 48 <= length; e += 48) {
        const kind = data[e]!;
        const rawName = data.subarray(e + 2, e + 48);
        const nul = rawName.indexOf(0);
        featureNames.push({
          type: kind === 0 ? 'incompatible' : kind === 1 ? 'compatible' : 'autoclear',
          bit: data[e + 1]!,
          name: rawName.subarray(0, nul < 0 ? rawName.length : nul).toString('utf8'),
        });
      }
    }
    at = dataAt + Math.ceil(length / 8) * 8;
  }

  const header: Qcow2Header = {
    version,
    backingFile: null,
    backingFormat,
    clusterBits,
    clusterSize,
    virtualSize,
    cryptMethod,
    l1Size,
    l1TableOffset,
    refcountTableOffset,
    refcountTableClusters,
    nbSnapshots,
    snapshotsOffset,
    incompatibleFeatures,
    compatibleFeatures,
    autoclearFeatures,
    refcountOrder,
    headerLength,
    compressionType,
    featureNames,
    extensions,
    dataFile,
  };

  // Incompatible features: an implementation must fail on any bit it does not know.
  const unknown = incompatibleFeatures & ~KNOWN_INCOMPAT;
  if (unknown !== 0n) {
    const bits: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if (unknown & (1n << BigInt(bit))) bits.push(describeFeature(header, 'incompatible', bit));
    }
    throw new AppError(
      'UNSUPPORTED',
      `${path} uses unknown incompatible qcow2 feature ${bits.join(', ')}; ` +
        'it was written by a newer QEMU. Convert it with "qemu-img convert -O qcow2" to use it here.',
    );
  }
  if (incompatibleFeatures & INCOMPAT.externalDataFile) throw unsupportedImage(path, 'an external data file');
  if (incompatibleFeatures & INCOMPAT.extendedL2) throw unsupportedImage(path, 'extended L2 entries (subclusters)');
  if (incompatibleFeatures & INCOMPAT.compressionType || compressionType !== 0) {
    if (compressionType === 0) throw corruptImage(path, 'the compression type bit is set but compression_type is 0');
    if (!(incompatibleFeatures & INCOMPAT.compressionType)) {
      throw corruptImage(path, `compression_type is ${compressionType} but the compression type bit is not set`);
    }
    throw unsupportedImage(path, `compression type ${compressionType === 1 ? 'zstd' : compressionType}`);
  }

  if (refcountOrder > 6) throw corruptImage(path, `its refcount_order ${refcountOrder} is larger than 6`);

  // Backing file name (spec "== Header ==", bytes 8-19).
  let backingFile: string | null = null;
  if (backingFileOffset !== 0) {
    if (backingFileSize === 0 || backingFileSize > MAX_BACKING_NAME) {
      throw corruptImage(path, `its backing file name length ${backingFileSize} is invalid (1 to ${MAX_BACKING_NAME})`);
    }
    if (backingFileOffset + backingFileSize > clusterSize) {
      throw corruptImage(path, `its backing file name (offset ${backingFileOffset}) runs past the header cluster`);
    }
    if (backingFileOffset + backingFileSize > fileSize) {
      throw truncatedImage(path, `backing file name at offset ${backingFileOffset}`, fileSize);
    }
    backingFile = head.subarray(backingFileOffset, backingFileOffset + backingFileSize).toString('utf8');
  }

  // L1 table (spec "== Cluster mapping =="): aligned, large enough for the disk, inside the file.
  const l2Entries = clusterSize / 8;
  const bytesPerL1Entry = l2Entries * clusterSize;
  if (l1Size * 8 > MAX_L1_BYTES) throw corruptImage(path, `its L1 table (${l1Size} entries) is larger than 32 MiB`);
  if (l1Size * bytesPerL1Entry < virtualSize) {
    throw corruptImage(path, `its L1 table (${l1Size} entries) is too small for a ${virtualSize}-byte disk`);
  }
  if (l1Size > 0) {
    if (l1TableOffset === 0 || l1TableOffset % clusterSize !== 0) {
      throw corruptImage(path, `its L1 table offset ${l1TableOffset} is not aligned to a cluster`);
    }
    if (l1TableOffset + l1Size * 8 > fileSize) {
      throw truncatedImage(path, `L1 table at offset ${l1TableOffset}`, fileSize);
    }
  }

  // Refcount table (spec "== Host cluster management ==").
  if (refcountTableOffset === 0 || refcountTableOffset % clusterSize !== 0) {
    throw corruptImage(path, `its refcount table offset ${refcountTableOffset} is not aligned to a cluster`);
  }
  if (refcountTableClusters === 0 || refcountTableClusters * clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
    throw corruptImage(path, `its refcount table size (${refcountTableClusters} clusters) is invalid`);
  }
  if (refcountTableOffset >= fileSize || refcountTableOffset + refcountTableClusters * clusterSize > fileSize) {
    throw truncatedImage(path, `refcount table at offset ${refcountTableOffset}`, fileSize);
  }

  // Snapshot table (spec "== Snapshots ==").
  if (nbSnapshots > MAX_SNAPSHOTS) throw corruptImage(path, `it claims ${nbSnapshots} snapshots`);
  if (nbSnapshots > 0) {
    if (snapshotsOffset === 0 || snapshotsOffset % clusterSize !== 0) {
      throw corruptImage(path, `its snapshot table offset ${snapshotsOffset} is not aligned to a cluster`);
    }
    if (snapshotsOffset >= fileSize)
      throw truncatedImage(path, `snapshot table at offset ${snapshotsOffset}`, fileSize);
  }
  return { ...header, backingFile };
}

/**
 * Reads and parses the header of the open image file (see {@link parseQcow2Header}).
 * `fileSize` is the file's current length.
 */
export async function readQcow2Header(fh: FileHandle, path: string, fileSize: number): Promise<Qcow2Header> {
  let head: Buffer;
  try {
    head = await readAt(fh, Math.min(fileSize, QCOW2_V3_HEADER_LENGTH), 0);
    if (head.length >= 24 && head.readUInt32BE(0) === QCOW2_MAGIC) {
      const bits = head.readUInt32BE(20);
      if (bits >= 9 && bits <= 21) head = await readAt(fh, Math.min(fileSize, 2 ** bits), 0);
    }
  } catch (err) {
    throw ioError(path, 'read', err);
  }
  return parseQcow2Header(head, fileSize, path);
}

/**
 * Refuses images that must not be used as they are: the dirty bit (refcounts may be stale;
 * spec says to repair before access) and the corrupt bit (spec: must not be written). Both
 * are refused for reading too, with the repair command in the message.
 */
export function assertQcow2Openable(header: Qcow2Header, path: string): void {
  if (header.incompatibleFeatures & INCOMPAT.corrupt) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${path} is marked corrupt (incompatible feature ${describeFeature(header, 'incompatible', 1)} is set): QEMU found an inconsistency ` +
        `and stopped using it. ${REPAIR_HINT}`,
    );
  }
  if (header.incompatibleFeatures & INCOMPAT.dirty) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${path} is marked dirty (incompatible feature ${describeFeature(header, 'incompatible', 0)} is set): it was not closed cleanly and ` +
        `its reference counts may be stale. ${REPAIR_HINT}`,
    );
  }
}
