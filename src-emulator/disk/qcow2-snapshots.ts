// Internal qcow2 snapshots: the snapshot table codec and list / create / apply / delete with
// exact refcounts and COPIED flags (spec: QEMU docs/interop/qcow2.txt, "== Snapshots ==").
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';
import { readAt } from './image-file';
import { corruptImage, HEADER_FIELD, MAX_L1_BYTES, MAX_SNAPSHOTS, truncatedImage } from './qcow2-header';
import { entryOffset, setOffsetEntry, type Qcow2Metadata } from './qcow2-metadata';

/** A snapshot as users see it (what `qemu-img snapshot -l` lists). */
export interface Qcow2Snapshot {
  /** Unique id string (QEMU numbers them "1", "2", …). */
  readonly id: string;
  readonly name: string;
  /** Bytes of saved VM state (0 for disk-only snapshots, which are all Maru creates). */
  readonly vmStateSize: number;
  /** When the snapshot was taken. */
  readonly date: Date;
  /** How long the guest had run when the snapshot was taken, in nanoseconds. */
  readonly vmClockNs: number;
  /** Virtual disk size at the time of the snapshot. */
  readonly diskSize: number;
}

/** Options for creating a snapshot. */
export interface CreateSnapshotOptions {
  /** Snapshot name: non-empty, unique in the image. */
  readonly name: string;
  /** Guest run time to record, in nanoseconds (default 0). */
  readonly vmClockNs?: number;
  /** Time to record (default now). */
  readonly date?: Date;
}

/** One snapshot table entry, with its bytes kept so rewriting the table preserves unknown extra data. */
export interface SnapshotRecord {
  readonly l1Offset: number;
  readonly l1Size: number;
  readonly id: string;
  readonly name: string;
  readonly vmStateSize: number;
  readonly dateSec: number;
  readonly dateNsec: number;
  readonly vmClockNs: number;
  /** From the extra data, or null when the entry has none (version 2 images). */
  readonly diskSize: number | null;
  /** The entry as stored, without padding. */
  readonly raw: Buffer;
}

// Spec "Snapshot table entry": 40 fixed bytes; extra data of version 3 images reaches byte 55.
const ENTRY_FIXED = 40;
const OUR_EXTRA = 16;
// QEMU refuses more extra data than this per entry.
const MAX_EXTRA = 1024;
const TWO32 = 2 ** 32;

function pad8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function u64n(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO32 + buf.readUInt32BE(at + 4);
}

/**
 * Reads the snapshot table (spec "Snapshot table entry") and checks each entry's L1 table
 * against the file. Throws AppError INVALID_ARGUMENT for a truncated or corrupt table.
 */
export async function readSnapshotTable(
  fh: FileHandle,
  path: string,
  geometry: { readonly snapshotsOffset: number; readonly nbSnapshots: number; readonly clusterSize: number },
  fileSize: number,
): Promise<SnapshotRecord[]> {
  const records: SnapshotRecord[] = [];
  let at = geometry.snapshotsOffset;
  const need = (length: number, what: string): void => {
    if (at + length > fileSize) throw truncatedImage(path, `${what} at offset ${at}`, fileSize);
  };
  for (let i = 0; i < geometry.nbSnapshots; i++) {
    need(ENTRY_FIXED, `snapshot table entry ${i + 1}`);
    const fixed = await readAt(fh, ENTRY_FIXED, at);
    const idLength = fixed.readUInt16BE(12);
    const nameLength = fixed.readUInt16BE(14);
    const extraSize = fixed.readUInt32BE(36);
    if (extraSize > MAX_EXTRA)
      throw corruptImage(path, `snapshot table entry ${i + 1} has ${extraSize} bytes of extra data`);
    const length = ENTRY_FIXED + extraSize + idLength + nameLength;
    need(length, `snapshot table entry ${i + 1}`);
    const raw = await readAt(fh, length, at);
    const extra = raw.subarray(ENTRY_FIXED, ENTRY_FIXED + extraSize);
    const l1Offset = u64n(raw, 0);
    const l1Size = raw.readUInt32BE(8);
    const id = raw.subarray(ENTRY_FIXED + extraSize, ENTRY_FIXED + extraSize + idLength).toString('utf8');
    const name = raw.subarray(ENTRY_FIXED + extraSize + idLength, length).toString('utf8');
    const label = `snapshot "${name}" (id ${id})`;
    if (l1Size * 8 > MAX_L1_BYTES) throw corruptImage(path, `the L1 table of ${label} is larger than 32 MiB`);
    if (l1Size > 0) {
      if (l1Offset % geometry.clusterSize !== 0 || l1Offset === 0) {
        throw corruptImage(path, `the L1 table of ${label} is at unaligned offset ${l1Offset}`);
      }
      if (l1Offset + l1Size * 8 > fileSize)
        throw truncatedImage(path, `L1 table of ${label} at offset ${l1Offset}`, fileSize);
    }
    records.push({
      l1Offset,
      l1Size,
      id,
      name,
      dateSec: raw.readUInt32BE(16),
      dateNsec: raw.readUInt32BE(20),
      vmClockNs: u64n(raw, 24),
      // Spec: the 64-bit size in the extra data, when present, overrides the 32-bit field.
      vmStateSize: extraSize >= 8 ? u64n(extra, 0) : raw.readUInt32BE(32),
      diskSize: extraSize >= 16 ? u64n(extra, 8) : null,
      raw,
    });
    at += pad8(length);
  }
  return records;
}

/** Encodes snapshot table entries back to back, each padded to a multiple of 8 bytes. */
export function encodeSnapshotTable(records: readonly SnapshotRecord[]): Buffer {
  const out = Buffer.alloc(records.reduce((n, r) => n + pad8(r.raw.length), 0));
  let at = 0;
  for (const r of records) {
    r.raw.copy(out, at);
    at += pad8(r.raw.length);
  }
  return out;
}

function newRecord(
  id: string,
  name: string,
  l1Offset: number,
  l1Size: number,
  diskSize: number,
  date: Date,
  vmClockNs: number,
): SnapshotRecord {
  const idBytes = Buffer.from(id, 'utf8');
  const nameBytes = Buffer.from(name, 'utf8');
  const raw = Buffer.alloc(ENTRY_FIXED + OUR_EXTRA + idBytes.length + nameBytes.length);
  const ms = date.getTime();
  const dateSec = Math.floor(ms / 1000);
  const dateNsec = (ms - dateSec * 1000) * 1_000_000;
  raw.writeBigUInt64BE(BigInt(l1Offset), 0);
  raw.writeUInt32BE(l1Size, 8);
  raw.writeUInt16BE(idBytes.length, 12);
  raw.writeUInt16BE(nameBytes.length, 14);
  raw.writeUInt32BE(dateSec, 16);
  raw.writeUInt32BE(dateNsec, 20);
  raw.writeBigUInt64BE(BigInt(vmClockNs), 24);
  raw.writeUInt32BE(0, 32); // vm_state_size: Maru stores v86 state in a separate file
  raw.writeUInt32BE(OUR_EXTRA, 36);
  raw.writeBigUInt64BE(0n, ENTRY_FIXED); // 64-bit vm state size
  raw.writeBigUInt64BE(BigInt(diskSize), ENTRY_FIXED + 8); // virtual disk size
  idBytes.copy(raw, ENTRY_FIXED + OUR_EXTRA);
  nameBytes.copy(raw, ENTRY_FIXED + OUR_EXTRA + idBytes.length);
  return { l1Offset, l1Size, id, name, vmStateSize: 0, dateSec, dateNsec, vmClockNs, diskSize, raw };
}

/** The public view of a snapshot record. */
export function snapshotInfo(r: SnapshotRecord, currentSize: number): Qcow2Snapshot {
  return {
    id: r.id,
    name: r.name,
    vmStateSize: r.vmStateSize,
    date: new Date(r.dateSec * 1000 + Math.floor(r.dateNsec / 1_000_000)),
    vmClockNs: r.vmClockNs,
    diskSize: r.diskSize ?? currentSize,
  };
}

function findSnapshot(meta: Qcow2Metadata, idOrName: string): SnapshotRecord {
  // Like qemu-img: an exact id first, then a name.
  const found = meta.snapshots.find((s) => s.id === idOrName) ?? meta.snapshots.find((s) => s.name === idOrName);
  if (!found) throw new AppError('NOT_FOUND', `${meta.path} has no snapshot with id or name "${idOrName}".`);
  return found;
}

/**
 * Adds `delta` to the refcount of every L2 table and data cluster reachable from an L1 table
 * (spec "== Snapshots ==": each L1 that reaches a cluster holds one reference to it). With
 * `clearCopied`, also clears the COPIED flag of every entry in those L2 tables.
 */
async function adjustReachable(
  meta: Qcow2Metadata,
  l1: Buffer,
  l1Size: number,
  delta: 1 | -1,
  clearCopied: boolean,
): Promise<void> {
  const cs = meta.clusterSize;
  for (let i = 0; i < l1Size; i++) {
    const l2Offset = entryOffset(l1, i * 8);
    if (l2Offset === 0) continue;
    const table = await meta.l2(l2Offset);
    for (let j = 0; j < meta.l2Entries; j++) {
      const e = meta.decode(table, j);
      if (e.kind === 'normal' || (e.kind === 'zero' && e.host !== 0)) await meta.addRef(e.host / cs, delta);
      else if (e.kind === 'compressed') {
        for (let c = Math.floor(e.host / cs); c <= Math.floor((e.end - 1) / cs); c++) await meta.addRef(c, delta);
      }
      if (clearCopied) meta.setCopiedFlag(table, j, false);
    }
    if (clearCopied) await meta.commitL2();
    await meta.addRef(l2Offset / cs, delta);
    // Early refcount write-back keeps memory bounded; it is safe here because increments
    // precede the new references and decrements follow the removal of the old ones.
    if (meta.dirtyRefBlocks > 32) await meta.commitRefcounts();
    meta.trimCaches();
  }
}

/**
 * Recomputes the COPIED flags of the active L1 table and every L2 table it reaches (spec
 * "== Snapshots ==": they must be rebuilt after a snapshot is loaded), and writes them.
 */
async function fixCopiedFlags(meta: Qcow2Metadata): Promise<void> {
  const cs = meta.clusterSize;
  for (let i = 0; i < meta.l1Size; i++) {
    const l2Offset = meta.l1Entry(i);
    if (l2Offset === 0) continue;
    const l2Exclusive = (await meta.refcount(l2Offset / cs)) === 1;
    if (meta.l1Copied(i) !== l2Exclusive) meta.setL1(i, l2Offset, l2Exclusive);
    const table = await meta.l2(l2Offset);
    for (let j = 0; j < meta.l2Entries; j++) {
      const e = meta.decode(table, j);
      if (e.kind === 'normal' || (e.kind === 'zero' && e.host !== 0)) {
        meta.setCopiedFlag(table, j, (await meta.refcount(e.host / cs)) === 1);
      } else if (e.kind === 'compressed') meta.setCopiedFlag(table, j, false);
    }
    await meta.commitL2();
    meta.trimCaches();
  }
  await meta.commitL1();
}

/** Writes a new snapshot table, switches the header to it, then frees the old one. */
async function replaceSnapshotTable(meta: Qcow2Metadata, records: SnapshotRecord[]): Promise<void> {
  const cs = meta.clusterSize;
  const oldBytes = encodeSnapshotTable(meta.snapshots).length;
  const oldOffset = meta.snapshotsOffset;
  const table = encodeSnapshotTable(records);
  let offset = 0;
  if (records.length > 0) {
    offset = (await meta.allocContiguous(Math.ceil(table.length / cs))) * cs;
    await meta.writeAt(table, offset);
  }
  await meta.commitRefcounts();
  // Spec "== Header ==": nb_snapshots (60-63) and snapshots_offset (64-71) in one write.
  const fields = Buffer.alloc(12);
  fields.writeUInt32BE(records.length, 0);
  fields.writeBigUInt64BE(BigInt(offset), 4);
  await meta.writeAt(fields, HEADER_FIELD.nbSnapshots);
  meta.snapshots = records;
  meta.snapshotsOffset = offset;
  if (oldBytes > 0) await meta.release({ start: oldOffset, end: oldOffset + oldBytes });
  await meta.commitRefcounts();
}

/** Lists the snapshots of an open image. */
export function listSnapshots(meta: Qcow2Metadata): Qcow2Snapshot[] {
  return meta.snapshots.map((r) => snapshotInfo(r, meta.virtualSize));
}

/**
 * Takes a disk-only internal snapshot: copies the active L1 table, adds a reference to every
 * cluster it reaches (so later writes copy on write), clears the COPIED flags, and records
 * the snapshot (with 64-bit vm state size 0 and the virtual disk size in its extra data).
 */
export async function createSnapshot(meta: Qcow2Metadata, options: CreateSnapshotOptions): Promise<Qcow2Snapshot> {
  const { name } = options;
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (name.length === 0 || nameBytes > 1023 || name.includes('\0')) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `A snapshot name must be 1 to 1023 bytes without NUL characters (got "${name}").`,
    );
  }
  if (meta.snapshots.some((s) => s.name === name)) {
    throw new AppError('ALREADY_EXISTS', `${meta.path} already has a snapshot named "${name}".`);
  }
  if (meta.snapshots.length >= MAX_SNAPSHOTS) {
    throw new AppError('HOST_LIMIT', `${meta.path} already has ${MAX_SNAPSHOTS} snapshots, the qcow2 limit.`);
  }
  if (meta.refcountMax < 2) {
    throw new AppError(
      'UNSUPPORTED',
      `${meta.path} has 1-bit refcounts, which cannot hold snapshots. Convert it with "qemu-img convert -O qcow2".`,
    );
  }
  const vmClockNs = options.vmClockNs ?? 0;
  if (!Number.isSafeInteger(vmClockNs) || vmClockNs < 0) {
    throw new AppError('INVALID_ARGUMENT', `vmClockNs must be a non-negative whole number (got ${vmClockNs}).`);
  }
  const cs = meta.clusterSize;
  const id = String(meta.snapshots.reduce((max, s) => Math.max(max, /^\d+$/.test(s.id) ? Number(s.id) : 0), 0) + 1);

  // 1. The snapshot's own copy of the L1 table (COPIED flags mean nothing in inactive tables).
  const l1Copy = Buffer.from(meta.l1);
  for (let at = 0; at < l1Copy.length; at += 8) l1Copy.writeUInt32BE(l1Copy.readUInt32BE(at) & 0x7fffffff, at);
  let l1Offset = 0;
  if (meta.l1Size > 0) {
    l1Offset = (await meta.allocContiguous(Math.ceil(l1Copy.length / cs))) * cs;
    await meta.writeAt(l1Copy, l1Offset);
  }
  // 2. One more reference to everything the active L1 reaches; active entries lose COPIED.
  await adjustReachable(meta, meta.l1, meta.l1Size, 1, true);
  for (let i = 0; i < meta.l1Size; i++) {
    const l2Offset = meta.l1Entry(i);
    if (l2Offset !== 0 && meta.l1Copied(i)) meta.setL1(i, l2Offset, false);
  }
  await meta.commitRefcounts();
  await meta.commitL1();
  // 3. Record it.
  const record = newRecord(id, name, l1Offset, meta.l1Size, meta.virtualSize, options.date ?? new Date(), vmClockNs);
  await replaceSnapshotTable(meta, [...meta.snapshots, record]);
  meta.trimCaches();
  return snapshotInfo(record, meta.virtualSize);
}

/**
 * Reverts the disk to a snapshot: a copy of the snapshot's L1 table becomes the active one
 * (references taken first, header switched, then the old state's references dropped), and
 * the COPIED flags of the new active tables are rebuilt. Returns the disk size now in effect.
 */
export async function applySnapshot(meta: Qcow2Metadata, idOrName: string): Promise<Qcow2Snapshot> {
  const sn = findSnapshot(meta, idOrName);
  const cs = meta.clusterSize;
  const diskSize = sn.diskSize ?? meta.virtualSize;
  const size = Math.max(sn.l1Size, Math.ceil(diskSize / (meta.l2Entries * cs)));
  const table = Buffer.alloc(size * 8);
  (await readAt(meta.fh, sn.l1Size * 8, sn.l1Offset)).copy(table);
  for (let i = 0; i < size; i++) setOffsetEntry(table, i * 8, entryOffset(table, i * 8), false);

  // 1. References for the new active state, then its L1 table.
  await adjustReachable(meta, table, size, 1, false);
  let offset = 0;
  if (size > 0) {
    offset = (await meta.allocContiguous(Math.ceil((size * 8) / cs))) * cs;
    await meta.writeAt(table, offset);
  }
  await meta.commitRefcounts();
  // 2. Switch: spec "== Header ==" bytes 24-47 (size, crypt_method, l1_size, l1_table_offset) in one write.
  const fields = Buffer.alloc(24);
  fields.writeBigUInt64BE(BigInt(diskSize), 0);
  fields.writeUInt32BE(0, 8);
  fields.writeUInt32BE(size, 12);
  fields.writeBigUInt64BE(BigInt(offset), 16);
  await meta.writeAt(fields, HEADER_FIELD.size);
  const old = { l1: meta.l1, size: meta.l1Size, offset: meta.l1Offset };
  meta.replaceL1(offset, size, table);
  meta.virtualSize = diskSize;
  // 3. Drop the old active state's references, then rebuild COPIED flags.
  await adjustReachable(meta, old.l1, old.size, -1, false);
  if (old.size > 0) await meta.release({ start: old.offset, end: old.offset + old.size * 8 });
  await meta.commitRefcounts();
  await fixCopiedFlags(meta);
  meta.trimCaches();
  return snapshotInfo(sn, meta.virtualSize);
}

/**
 * Deletes a snapshot: removes it from the table first, then drops its references (freeing
 * clusters nothing else uses) and rebuilds the COPIED flags of the active tables.
 */
export async function deleteSnapshot(meta: Qcow2Metadata, idOrName: string): Promise<void> {
  const sn = findSnapshot(meta, idOrName);
  await replaceSnapshotTable(
    meta,
    meta.snapshots.filter((s) => s !== sn),
  );
  const l1 = await readAt(meta.fh, sn.l1Size * 8, sn.l1Offset);
  await adjustReachable(meta, l1, sn.l1Size, -1, false);
  if (sn.l1Size > 0) await meta.release({ start: sn.l1Offset, end: sn.l1Offset + sn.l1Size * 8 });
  await meta.commitRefcounts();
  await fixCopiedFlags(meta);
  meta.trimCaches();
}
