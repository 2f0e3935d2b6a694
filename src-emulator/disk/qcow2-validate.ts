// The read-only consistency pass run before a qcow2 image is used: every table and cluster
// the metadata points at must lie inside the file, no two metadata structures may share a
// cluster, guest data may not sit on metadata, and every cluster in use must have a refcount.
import type { FileHandle } from 'node:fs/promises';
import { readAt } from './image-file';
import { corruptImage, truncatedImage, type Qcow2Header } from './qcow2-header';
import { entryOffset, readRefcount } from './qcow2-metadata';
import { encodeSnapshotTable, type SnapshotRecord } from './qcow2-snapshots';

const TWO32 = 2 ** 32;
const REFCOUNT_BLOCK_CACHE = 16;

interface Claim {
  readonly what: string;
  /** Set for L2 tables: the same table may be reached from several L1 tables. */
  readonly l2?: number;
}

interface L2Use {
  /** Guest offset of the table's first cluster. */
  readonly guestBase: number;
  /** "the active image" or `snapshot "name"`. */
  readonly owner: string;
}

/**
 * Checks the metadata of an image whose header already passed {@link parseQcow2Header}
 * (spec: QEMU docs/interop/qcow2.txt, "== Host cluster management ==", "== Cluster
 * mapping ==", "== Snapshots =="). Reads only; throws AppError INVALID_ARGUMENT with what is
 * wrong and where. Reads every L1 and L2 table once, one table at a time.
 */
export async function validateQcow2(
  fh: FileHandle,
  path: string,
  header: Qcow2Header,
  fileSize: number,
  snapshots: readonly SnapshotRecord[],
): Promise<void> {
  const cs = header.clusterSize;
  const claims = new Map<number, Claim>();
  const claim = (offset: number, length: number, what: string, l2?: number): void => {
    for (let c = Math.floor(offset / cs); c <= Math.floor((offset + length - 1) / cs); c++) {
      const prev = claims.get(c);
      if (prev) {
        if (l2 !== undefined && prev.l2 === l2) continue;
        throw corruptImage(path, `refcount overlap: cluster ${c} used by both ${prev.what} and ${what}`);
      }
      claims.set(c, l2 === undefined ? { what } : { what, l2 });
    }
  };

  claim(0, cs, 'the image header');
  const refTableBytes = header.refcountTableClusters * cs;
  claim(header.refcountTableOffset, refTableBytes, 'the refcount table');
  const refTable = await readAt(fh, refTableBytes, header.refcountTableOffset);
  for (let i = 0; i < refTableBytes / 8; i++) {
    if (refTable.readUInt32BE(i * 8 + 4) & 0x1ff) {
      throw corruptImage(path, `refcount table entry ${i} has reserved bits set`);
    }
    const block = entryOffset(refTable, i * 8);
    if (block === 0) continue;
    if (block + cs > fileSize) throw truncatedImage(path, `refcount block ${i} at offset ${block}`, fileSize);
    claim(block, cs, `refcount block ${i}`);
  }
  if (header.l1Size > 0) claim(header.l1TableOffset, header.l1Size * 8, 'the active L1 table');
  if (snapshots.length > 0) {
    claim(header.snapshotsOffset, encodeSnapshotTable(snapshots).length, 'the snapshot table');
  }
  const l1Tables: { owner: string; offset: number; size: number }[] = [
    { owner: 'the active image', offset: header.l1TableOffset, size: header.l1Size },
  ];
  for (const s of snapshots) {
    const owner = `snapshot "${s.name}"`;
    if (s.l1Size > 0) claim(s.l1Offset, s.l1Size * 8, `the L1 table of ${owner}`);
    l1Tables.push({ owner, offset: s.l1Offset, size: s.l1Size });
  }

  // L1 entries (spec "L1 table entry"): reserved bits clear, L2 tables inside the file.
  const l2Entries = cs / 8;
  const l2s = new Map<number, L2Use>();
  for (const t of l1Tables) {
    if (t.size === 0) continue;
    const l1 = await readAt(fh, t.size * 8, t.offset);
    for (let i = 0; i < t.size; i++) {
      if (l1.readUInt32BE(i * 8) & 0x7f000000 || l1.readUInt32BE(i * 8 + 4) & 0x1ff) {
        throw corruptImage(path, `L1 entry ${i} of ${t.owner} has reserved bits set`);
      }
      const l2 = entryOffset(l1, i * 8);
      if (l2 === 0) continue;
      const guestBase = i * l2Entries * cs;
      if (l2 + cs > fileSize) {
        throw truncatedImage(path, `L2 table at offset ${l2} (guest offset ${guestBase} of ${t.owner})`, fileSize);
      }
      claim(l2, cs, `the L2 table at offset ${l2}`, l2);
      if (!l2s.has(l2)) l2s.set(l2, { guestBase, owner: t.owner });
    }
  }

  const refs = new RefcountReader(fh, header, refTable);
  for (const [c, { what }] of claims) {
    if (c * cs >= fileSize) continue; // the header cluster of a tiny file, already checked for extent
    if ((await refs.get(c)) === 0) {
      throw corruptImage(path, `refcount mismatch: cluster ${c} (${what}) is in use but its refcount is 0`);
    }
  }

  // L2 entries (spec "L2 table entry"): data inside the file, not on metadata, refcounted.
  const offsetHiBits = 38 - header.clusterBits;
  const sectorMask = (1 << (header.clusterBits - 8)) - 1;
  const sorted = [...l2s.entries()].sort((a, b) => a[0] - b[0]);
  for (const [l2, use] of sorted) {
    const table = await readAt(fh, cs, l2);
    for (let j = 0; j < l2Entries; j++) {
      const hi = table.readUInt32BE(j * 8);
      const lo = table.readUInt32BE(j * 8 + 4);
      if (hi === 0 && lo === 0) continue;
      const guest = use.guestBase + j * cs;
      const where = `guest offset ${guest} of ${use.owner}`;
      let first: number;
      let last: number;
      let what: string;
      if (hi & 0x40000000) {
        if (hi & 0x80000000) throw corruptImage(path, `the compressed cluster at ${where} has the COPIED flag set`);
        const host = (hi & ((1 << offsetHiBits) - 1)) * TWO32 + lo;
        const sectors = (hi >>> offsetHiBits) & sectorMask;
        if (host >= fileSize) throw truncatedImage(path, `compressed cluster at offset ${host} (${where})`, fileSize);
        first = Math.floor(host / cs);
        last = Math.floor((host - (host % 512) + (sectors + 1) * 512 - 1) / cs);
        what = `the compressed data of ${where}`;
      } else {
        if (hi & 0x3f000000 || lo & 0x1fe || (header.version === 2 && lo & 1)) {
          throw corruptImage(path, `the L2 entry for ${where} has reserved bits set`);
        }
        const host = entryOffset(table, j * 8);
        if (host === 0) {
          if (hi & 0x80000000) throw corruptImage(path, `the L2 entry for ${where} has COPIED set but no cluster`);
          continue;
        }
        if (host >= fileSize) throw truncatedImage(path, `data cluster at offset ${host} (${where})`, fileSize);
        first = last = host / cs;
        what = `the data of ${where}`;
      }
      for (let c = first; c <= last; c++) {
        const meta = claims.get(c);
        if (meta) throw corruptImage(path, `refcount overlap: cluster ${c} used by both ${meta.what} and ${what}`);
        if ((await refs.get(c)) === 0) {
          throw corruptImage(path, `refcount mismatch: cluster ${c} (${what}) is in use but its refcount is 0`);
        }
      }
    }
  }
}

/** Refcount lookups for the validation pass, with a small cache of refcount blocks. */
class RefcountReader {
  readonly #fh: FileHandle;
  readonly #table: Buffer;
  readonly #order: number;
  readonly #entries: number;
  readonly #clusterSize: number;
  readonly #blocks = new Map<number, Buffer>();

  constructor(fh: FileHandle, header: Qcow2Header, table: Buffer) {
    this.#fh = fh;
    this.#table = table;
    this.#order = header.refcountOrder;
    this.#clusterSize = header.clusterSize;
    this.#entries = (header.clusterSize * 8) >> header.refcountOrder;
  }

  async get(cluster: number): Promise<number> {
    const bi = Math.floor(cluster / this.#entries);
    if (bi * 8 >= this.#table.length) return 0;
    let block = this.#blocks.get(bi);
    if (!block) {
      const offset = entryOffset(this.#table, bi * 8);
      if (offset === 0) return 0;
      block = await readAt(this.#fh, this.#clusterSize, offset);
      if (this.#blocks.size >= REFCOUNT_BLOCK_CACHE) this.#blocks.delete(this.#blocks.keys().next().value!);
      this.#blocks.set(bi, block);
    }
    return readRefcount(block, cluster - bi * this.#entries, this.#order);
  }
}
