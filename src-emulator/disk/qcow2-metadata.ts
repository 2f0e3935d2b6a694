// The mutable metadata of an open qcow2 image: L1 table, L2 and refcount block caches, cluster
// allocation and refcount updates, and their ordered write-back (spec: QEMU docs/interop/qcow2.txt,
// "== Host cluster management ==", "== Cluster mapping ==").
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../../src-shared/errors';
import { readAt, writeFully, writevFully } from './image-file';
import { corruptImage, HEADER_FIELD, MAX_REFCOUNT_TABLE_BYTES, type Qcow2Header } from './qcow2-header';
import type { SnapshotRecord } from './qcow2-snapshots';

const TWO32 = 2 ** 32;
// Spec "== Cluster mapping ==": bit 63 of L1/L2 entries is COPIED, bit 62 of L2 entries is COMPRESSED.
const COPIED_HI = 0x80000000;
const COMPRESSED_HI = 0x40000000;
// Bits 9-55 hold a cluster-aligned host offset: the low 24 bits of the high word, the top 23 of the low word.
const OFFSET_HI_MASK = 0x00ffffff;
const OFFSET_LO_MASK = 0xfffffe00;

/** The bytes [lo, hi) of a table that differ from the file (none when lo >= hi). */
export interface DirtyRange {
  lo: number;
  hi: number;
}

/** A cached L2 table or refcount block with its dirty byte range. */
export interface CachedTable extends DirtyRange {
  readonly buf: Buffer;
}

/** What an L2 entry says about one guest cluster (spec "== Cluster mapping =="). */
export type L2Entry =
  | { readonly kind: 'unallocated' }
  /** Reads as zeros; `host` is a preallocated cluster that is still referenced (0 if none). */
  | { readonly kind: 'zero'; readonly host: number }
  | { readonly kind: 'normal'; readonly host: number; readonly copied: boolean }
  /** Compressed data starts at `host`; `end` is the end of its last 512-byte sector. */
  | { readonly kind: 'compressed'; readonly host: number; readonly end: number };

const UNALLOCATED: L2Entry = { kind: 'unallocated' };

/** A host byte range whose clusters each lose one reference once new metadata is on disk. */
export interface Release {
  readonly start: number;
  readonly end: number;
}

/** Reads a cluster-aligned offset (bits 9-55) from an L1, L2 or refcount table entry. */
export function entryOffset(buf: Buffer, at: number): number {
  return (buf.readUInt32BE(at) & OFFSET_HI_MASK) * TWO32 + ((buf.readUInt32BE(at + 4) & OFFSET_LO_MASK) >>> 0);
}

/** Writes an offset entry with the COPIED flag (bit 63) as given; all other bits zero. */
export function setOffsetEntry(buf: Buffer, at: number, offset: number, copied: boolean): void {
  buf.writeUInt32BE((Math.floor(offset / TWO32) | (copied ? COPIED_HI : 0)) >>> 0, at);
  buf.writeUInt32BE(offset % TWO32, at + 4);
}

/** Decodes entry `index` of an L2 table. */
export function decodeL2(buf: Buffer, index: number, clusterBits: number, version: number): L2Entry {
  const hi = buf.readUInt32BE(index * 8);
  const lo = buf.readUInt32BE(index * 8 + 4);
  if (hi & COMPRESSED_HI) {
    // Spec "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8) offset bits, then the
    // count of additional 512-byte sectors up to bit 61.
    const offsetHiBits = 38 - clusterBits;
    const host = (hi & ((1 << offsetHiBits) - 1)) * TWO32 + lo;
    const sectors = (hi >>> offsetHiBits) & ((1 << (clusterBits - 8)) - 1);
    const firstSector = host - (host % 512);
    return { kind: 'compressed', host, end: firstSector + (sectors + 1) * 512 };
  }
  const host = (hi & OFFSET_HI_MASK) * TWO32 + ((lo & OFFSET_LO_MASK) >>> 0);
  // Spec "Standard Cluster Descriptor", bit 0: reads as zeros (version 3 only).
  if (version >= 3 && lo & 1) return { kind: 'zero', host };
  if (host === 0) return UNALLOCATED;
  return { kind: 'normal', host, copied: (hi & COPIED_HI) !== 0 };
}

/** Reads entry `index` of a refcount block whose entries are `1 << order` bits wide. */
export function readRefcount(buf: Buffer, index: number, order: number): number {
  switch (order) {
    case 4:
      return buf.readUInt16BE(index * 2);
    case 5:
      return buf.readUInt32BE(index * 4);
    case 6: {
      const hi = buf.readUInt32BE(index * 8);
      // Counts past 2^53 cannot happen in practice; clamp so comparisons stay meaningful.
      return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * TWO32 + buf.readUInt32BE(index * 8 + 4);
    }
    case 3:
      return buf[index]!;
    default: {
      // Spec "Refcount block entry": sub-byte widths count bit 0 as the least significant bit.
      const bits = 1 << order;
      const bit = index * bits;
      return (buf[bit >> 3]! >> (bit & 7)) & ((1 << bits) - 1);
    }
  }
}

function writeRefcount(buf: Buffer, index: number, order: number, value: number): void {
  switch (order) {
    case 4:
      buf.writeUInt16BE(value, index * 2);
      return;
    case 5:
      buf.writeUInt32BE(value, index * 4);
      return;
    case 6:
      buf.writeUInt32BE(Math.floor(value / TWO32), index * 8);
      buf.writeUInt32BE(value % TWO32, index * 8 + 4);
      return;
    case 3:
      buf[index] = value;
      return;
    default: {
      const bits = 1 << order;
      const bit = index * bits;
      const mask = ((1 << bits) - 1) << (bit & 7);
      buf[bit >> 3] = (buf[bit >> 3]! & ~mask) | ((value << (bit & 7)) & mask);
    }
  }
}

function markDirty(t: DirtyRange, lo: number, hi: number): void {
  if (lo < t.lo) t.lo = lo;
  if (hi > t.hi) t.hi = hi;
}

/** Cache sizes (in tables) for {@link Qcow2Metadata}. */
export interface MetadataCacheOptions {
  readonly l2Tables: number;
  readonly refcountBlocks: number;
}

/**
 * The in-memory metadata of one open image, owned by its Qcow2Image and used only under its
 * lock. Changes are made in memory first (tables marked dirty) and reach the file through
 * the `commit*` methods, which the caller invokes in crash-safe order: data, refcounts, L2, L1.
 */
export class Qcow2Metadata {
  readonly fh: FileHandle;
  readonly path: string;
  readonly version: number;
  readonly clusterBits: number;
  readonly clusterSize: number;
  /** Entries per L2 table. */
  readonly l2Entries: number;
  readonly refcountOrder: number;
  /** Entries per refcount block. */
  readonly refBlockEntries: number;
  readonly refcountMax: number;

  virtualSize: number;
  l1Offset: number;
  l1Size: number;
  l1: Buffer;
  refTableOffset: number;
  refTable: Buffer;
  snapshotsOffset: number;
  snapshots: SnapshotRecord[];
  autoclearFeatures: bigint;
  /** First cluster never handed out: the logical end of the file. */
  endCluster: number;
  /** Current length of the file. */
  physicalSize: number;
  /** Counts changes made (in memory or on disk), so a caller can tell whether a failed operation changed anything. */
  changes = 0;

  /** Dirty bytes of the active L1 table and of the refcount table. */
  #l1Dirty: DirtyRange = { lo: Infinity, hi: 0 };
  #rtDirty: DirtyRange = { lo: Infinity, hi: 0 };
  #freeCursor = 0;
  readonly #l2 = new Map<number, CachedTable>();
  readonly #l2Loading = new Map<number, Promise<CachedTable>>();
  readonly #rb = new Map<number, CachedTable>();
  readonly #rbLoading = new Map<number, Promise<CachedTable>>();
  readonly #cache: MetadataCacheOptions;

  private constructor(
    fh: FileHandle,
    path: string,
    header: Qcow2Header,
    fileSize: number,
    l1: Buffer,
    refTable: Buffer,
    snapshots: SnapshotRecord[],
    cache: MetadataCacheOptions,
  ) {
    this.fh = fh;
    this.path = path;
    this.version = header.version;
    this.clusterBits = header.clusterBits;
    this.clusterSize = header.clusterSize;
    this.l2Entries = header.clusterSize / 8;
    this.refcountOrder = header.refcountOrder;
    this.refBlockEntries = (header.clusterSize * 8) >> header.refcountOrder;
    this.refcountMax = header.refcountOrder === 6 ? Number.MAX_SAFE_INTEGER : 2 ** (1 << header.refcountOrder) - 1;
    this.virtualSize = header.virtualSize;
    this.l1Offset = header.l1TableOffset;
    this.l1Size = header.l1Size;
    this.l1 = l1;
    this.refTableOffset = header.refcountTableOffset;
    this.refTable = refTable;
    this.snapshotsOffset = header.snapshotsOffset;
    this.snapshots = snapshots;
    this.autoclearFeatures = header.autoclearFeatures;
    this.physicalSize = fileSize;
    this.endCluster = Math.ceil(fileSize / header.clusterSize);
    this.#cache = cache;
  }

  /** Loads the L1 and refcount tables of a validated image. */
  static async load(
    fh: FileHandle,
    path: string,
    header: Qcow2Header,
    fileSize: number,
    snapshots: SnapshotRecord[],
    cache: MetadataCacheOptions,
  ): Promise<Qcow2Metadata> {
    const l1 = await readAt(fh, header.l1Size * 8, header.l1TableOffset);
    const refTable = await readAt(fh, header.refcountTableClusters * header.clusterSize, header.refcountTableOffset);
    return new Qcow2Metadata(fh, path, header, fileSize, l1, refTable, snapshots, cache);
  }

  // ---- L1 ----------------------------------------------------------------------------

  /** Offset of the L2 table for L1 index `i`, or 0. */
  l1Entry(i: number): number {
    return i < this.l1Size ? entryOffset(this.l1, i * 8) : 0;
  }

  l1Copied(i: number): boolean {
    return (this.l1.readUInt32BE(i * 8) & COPIED_HI) !== 0;
  }

  setL1(i: number, l2Offset: number, copied: boolean): void {
    this.changes++;
    setOffsetEntry(this.l1, i * 8, l2Offset, copied);
    markDirty(this.#l1Dirty, i * 8, i * 8 + 8);
  }

  /** Replaces the active L1 table (after a snapshot switch); the caller has written it. */
  replaceL1(offset: number, size: number, table: Buffer): void {
    this.changes++;
    this.l1Offset = offset;
    this.l1Size = size;
    this.l1 = table;
    this.#l1Dirty = { lo: Infinity, hi: 0 };
  }

  // ---- L2 ----------------------------------------------------------------------------

  /** The L2 table at `offset`, from the cache or the file. */
  l2(offset: number): Promise<CachedTable> | CachedTable {
    const hit = this.#l2.get(offset);
    if (hit) {
      this.#l2.delete(offset);
      this.#l2.set(offset, hit);
      return hit;
    }
    return this.#load(this.#l2, this.#l2Loading, offset, offset);
  }

  decode(table: CachedTable, index: number): L2Entry {
    return decodeL2(table.buf, index, this.clusterBits, this.version);
  }

  /** Points L2 entry `index` at a standard cluster. */
  setL2(table: CachedTable, index: number, host: number, copied: boolean): void {
    setOffsetEntry(table.buf, index * 8, host, copied);
    markDirty(table, index * 8, index * 8 + 8);
    this.changes++;
  }

  /** Sets or clears the COPIED flag of an L1/L2 entry in `table` (a no-op when already right). */
  setCopiedFlag(table: CachedTable, index: number, copied: boolean): void {
    const hi = table.buf.readUInt32BE(index * 8);
    const want = copied ? (hi | COPIED_HI) >>> 0 : hi & ~COPIED_HI;
    if (want === hi) return;
    table.buf.writeUInt32BE(want >>> 0, index * 8);
    markDirty(table, index * 8, index * 8 + 8);
    this.changes++;
  }

  /**
   * The L2 table for L1 index `l1i`, ready to be modified: allocates a new table when there is
   * none, or copies it when it is shared with a snapshot (refcount > 1; the old table's
   * reference is added to `releases`, to drop after the new metadata is on disk).
   */
  async l2ForWrite(l1i: number, releases: Release[]): Promise<CachedTable> {
    const cs = this.clusterSize;
    const current = this.l1Entry(l1i);
    if (current !== 0 && (await this.refcount(current / cs)) === 1) {
      if (!this.l1Copied(l1i)) this.setL1(l1i, current, true);
      return this.l2(current);
    }
    const cluster = await this.allocCluster();
    const buf = Buffer.alloc(cs);
    if (current !== 0) {
      (await this.l2(current)).buf.copy(buf);
      // Every cluster reachable from a shared table has refcount > 1 (each L1 that reaches it
      // counts once), so no entry of the copy may carry COPIED.
      for (let at = 0; at < cs; at += 8) buf.writeUInt32BE((buf.readUInt32BE(at) & ~COPIED_HI) >>> 0, at);
      releases.push({ start: current, end: current + 1 });
    }
    const table: CachedTable = { buf, lo: 0, hi: cs };
    this.#l2.set(cluster * cs, table);
    this.setL1(l1i, cluster * cs, true);
    return table;
  }

  // ---- Refcounts ---------------------------------------------------------------------

  get refTableEntries(): number {
    return this.refTable.length / 8;
  }

  #refTableEntry(bi: number): number {
    return bi < this.refTableEntries ? entryOffset(this.refTable, bi * 8) : 0;
  }

  #refBlock(bi: number): Promise<CachedTable> | CachedTable | undefined {
    const hit = this.#rb.get(bi);
    if (hit) {
      this.#rb.delete(bi);
      this.#rb.set(bi, hit);
      return hit;
    }
    const offset = this.#refTableEntry(bi);
    return offset === 0 ? undefined : this.#load(this.#rb, this.#rbLoading, bi, offset);
  }

  /** Reference count of host cluster `cluster` (0 when no refcount block covers it). */
  async refcount(cluster: number): Promise<number> {
    const bi = Math.floor(cluster / this.refBlockEntries);
    const block = await this.#refBlock(bi);
    return block ? readRefcount(block.buf, cluster - bi * this.refBlockEntries, this.refcountOrder) : 0;
  }

  /** Adds `delta` to the refcount of `cluster` (creating refcount blocks as needed); returns the new count. */
  async addRef(cluster: number, delta: number): Promise<number> {
    const rbe = this.refBlockEntries;
    const bi = Math.floor(cluster / rbe);
    const block = delta > 0 ? await this.#refBlockForWrite(bi) : await this.#refBlock(bi);
    const index = cluster - bi * rbe;
    const current = block ? readRefcount(block.buf, index, this.refcountOrder) : 0;
    const next = current + delta;
    if (next < 0 || !block) {
      throw corruptImage(this.path, `the refcount of cluster ${cluster} would drop below zero`);
    }
    if (next > this.refcountMax) {
      throw new AppError(
        'UNSUPPORTED',
        `${this.path}: cluster ${cluster} would need more than ${this.refcountMax} references ` +
          `(the image has ${1 << this.refcountOrder}-bit refcounts). Convert it with "qemu-img convert -O qcow2".`,
      );
    }
    writeRefcount(block.buf, index, this.refcountOrder, next);
    this.changes++;
    const bitLo = index << this.refcountOrder;
    markDirty(block, bitLo >> 3, (bitLo + (1 << this.refcountOrder) + 7) >> 3);
    if (next === 0) {
      if (cluster < this.#freeCursor) this.#freeCursor = cluster;
      this.#l2.delete(cluster * this.clusterSize);
    }
    return next;
  }

  /** Drops one reference from every cluster the range touches. */
  async release(r: Release): Promise<void> {
    const cs = this.clusterSize;
    for (let c = Math.floor(r.start / cs); c <= Math.floor((r.end - 1) / cs); c++) await this.addRef(c, -1);
  }

  async #refBlockForWrite(bi: number): Promise<CachedTable> {
    if (bi >= this.refTableEntries) await this.#growRefTable(bi + 1);
    const existing = await this.#refBlock(bi);
    if (existing) return existing;
    // A new refcount block at the end of the file. Its own refcount lives either in itself
    // (installed before the recursive addRef, so the lookup finds it) or in a later block.
    const cs = this.clusterSize;
    const cluster = this.bumpEof(1);
    const block: CachedTable = { buf: Buffer.alloc(cs), lo: 0, hi: cs };
    this.#rb.set(bi, block);
    this.#setRefTableEntry(bi, cluster * cs);
    await this.addRef(cluster, 1);
    return block;
  }

  #setRefTableEntry(bi: number, offset: number): void {
    setOffsetEntry(this.refTable, bi * 8, offset, false);
    markDirty(this.#rtDirty, bi * 8, bi * 8 + 8);
  }

  /**
   * Moves the refcount table to the end of the file with room for at least `minEntries`
   * blocks. The new table and any new blocks that describe it are written first, then the
   * header is switched, then the old table's clusters are freed.
   */
  async #growRefTable(minEntries: number): Promise<void> {
    const cs = this.clusterSize;
    const rbe = this.refBlockEntries;
    const oldEntries = this.refTableEntries;
    const oldOffset = this.refTableOffset;
    const first = this.endCluster;
    let entries = Math.max(minEntries, Math.ceil(oldEntries * 1.5));
    let tableClusters = 0;
    let missing: number[] = [];
    // Fixed point: the table and the new blocks must cover themselves.
    for (;;) {
      tableClusters = Math.ceil((entries * 8) / cs);
      entries = (tableClusters * cs) / 8;
      let m = 0;
      for (;;) {
        const last = first + tableClusters + m - 1;
        missing = [];
        for (let b = Math.floor(first / rbe); b <= Math.floor(last / rbe); b++) {
          if (this.#refTableEntry(b) === 0) missing.push(b);
        }
        if (missing.length === m) break;
        m = missing.length;
      }
      const needed = Math.floor((first + tableClusters + missing.length - 1) / rbe) + 1;
      if (needed <= entries) break;
      entries = needed;
    }
    if (entries * 8 > MAX_REFCOUNT_TABLE_BYTES) {
      throw new AppError('HOST_LIMIT', `${this.path} has grown past the qcow2 refcount table limit (8 MiB).`);
    }
    const table = Buffer.alloc(entries * 8);
    this.refTable.copy(table);
    this.refTable = table;
    this.refTableOffset = first * cs;
    this.#rtDirty = { lo: 0, hi: table.length };
    this.endCluster = first + tableClusters + missing.length;
    missing.forEach((b, j) => {
      this.#rb.set(b, { buf: Buffer.alloc(cs), lo: 0, hi: cs });
      this.#setRefTableEntry(b, (first + tableClusters + j) * cs);
    });
    for (let c = first; c < this.endCluster; c++) await this.addRef(c, 1);
    await this.commitRefcounts();
    const fields = Buffer.alloc(12);
    fields.writeBigUInt64BE(BigInt(this.refTableOffset), 0);
    fields.writeUInt32BE(tableClusters, 8);
    await this.writeAt(fields, HEADER_FIELD.refcountTableOffset);
    const oldClusters = (oldEntries * 8) / cs;
    for (let i = 0; i < oldClusters; i++) await this.addRef(oldOffset / cs + i, -1);
  }

  // ---- Allocation --------------------------------------------------------------------

  /** Reserves `n` clusters at the end of the file (no refcounts set); returns the first. */
  bumpEof(n: number): number {
    this.changes++;
    const first = this.endCluster;
    this.endCluster += n;
    return first;
  }

  /** Allocates one cluster (the lowest free one, else at the end of the file) with refcount 1. */
  async allocCluster(): Promise<number> {
    while (this.#freeCursor < this.endCluster) {
      const c = this.#freeCursor++;
      if ((await this.refcount(c)) === 0) {
        await this.addRef(c, 1);
        return c;
      }
    }
    const c = this.bumpEof(1);
    this.#freeCursor = this.endCluster;
    await this.addRef(c, 1);
    return c;
  }

  /** Allocates `n` contiguous clusters with refcount 1 (one cluster may come from free space). */
  async allocContiguous(n: number): Promise<number> {
    if (n === 1) return this.allocCluster();
    const first = this.bumpEof(n);
    for (let i = 0; i < n; i++) await this.addRef(first + i, 1);
    return first;
  }

  // ---- Write-back --------------------------------------------------------------------

  /** Writes `data` at `position`, tracking the file length. */
  async writeAt(data: Uint8Array, position: number): Promise<void> {
    this.changes++;
    await writeFully(this.fh, data, position);
    this.#noteEnd(position + data.length);
  }

  /** Writes buffers back to back at `position`, tracking the file length. */
  async writevAt(parts: readonly Uint8Array[], position: number): Promise<void> {
    this.changes++;
    await writevFully(this.fh, parts, position);
    this.#noteEnd(position + parts.reduce((n, p) => n + p.length, 0));
  }

  #noteEnd(end: number): void {
    if (end > this.physicalSize) this.physicalSize = end;
  }

  /** Writes the dirty bytes of `table` (stored at file offset `at`) and marks them clean. */
  #writeDirty(table: Buffer, dirty: DirtyRange, at: number): Promise<void> {
    const { lo, hi } = dirty;
    if (lo >= hi) return Promise.resolve();
    dirty.lo = Infinity;
    dirty.hi = 0;
    return this.writeAt(table.subarray(lo, hi), at + lo);
  }

  /** Writes dirty refcount blocks, then the dirty part of the refcount table. */
  async commitRefcounts(): Promise<void> {
    await Promise.all([...this.#rb].map(([bi, t]) => this.#writeDirty(t.buf, t, this.#refTableEntry(bi))));
    await this.#writeDirty(this.refTable, this.#rtDirty, this.refTableOffset);
  }

  /** Writes the dirty parts of cached L2 tables. */
  async commitL2(): Promise<void> {
    await Promise.all([...this.#l2].map(([offset, t]) => this.#writeDirty(t.buf, t, offset)));
  }

  /** Writes the dirty part of the active L1 table. */
  async commitL1(): Promise<void> {
    await this.#writeDirty(this.l1, this.#l1Dirty, this.l1Offset);
  }

  /** Writes everything dirty in crash-safe order: refcounts, L2 tables, L1 table. */
  async commitAll(): Promise<void> {
    await this.commitRefcounts();
    await this.commitL2();
    await this.commitL1();
  }

  /** Number of refcount blocks with unwritten changes (long walks commit early to bound memory). */
  get dirtyRefBlocks(): number {
    let n = 0;
    for (const t of this.#rb.values()) if (t.lo < t.hi) n++;
    return n;
  }

  /** Evicts least recently used clean tables beyond the cache limits. */
  trimCaches(): void {
    trim(this.#l2, this.#cache.l2Tables);
    trim(this.#rb, this.#cache.refcountBlocks);
  }

  /** Forgets every cached L2 table (all must be clean). */
  dropL2Cache(): void {
    this.#l2.clear();
  }

  async #load(
    cache: Map<number, CachedTable>,
    loading: Map<number, Promise<CachedTable>>,
    key: number,
    offset: number,
  ): Promise<CachedTable> {
    const pending = loading.get(key);
    if (pending) return pending;
    const p = readAt(this.fh, this.clusterSize, offset).then(
      (buf) => {
        loading.delete(key);
        const t: CachedTable = { buf, lo: Infinity, hi: 0 };
        cache.set(key, t);
        return t;
      },
      (err: unknown) => {
        loading.delete(key);
        throw err;
      },
    );
    loading.set(key, p);
    return p;
  }
}

function trim(cache: Map<number, CachedTable>, limit: number): void {
  if (cache.size <= limit) return;
  for (const [key, t] of cache) {
    if (cache.size <= limit) return;
    if (t.lo >= t.hi) cache.delete(key);
  }
}
