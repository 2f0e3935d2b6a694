// UDF (ECMA-167 / OSTA UDF 1.02–2.01) enough to name the volume and walk directories: the
// Anchor at sector 256, the Volume Descriptor Sequence (partition + logical volume), the
// File Set Descriptor, File Entries and File Identifier Descriptors. Offsets cite ECMA-167 part/section.
import { MAX_DIR_BYTES, type Extent, type FsTree, type NodeData, type TreeNode } from './fs-tree';
import { SECTOR, type IsoFile } from './iso-file';

const TAG = {
  AVDP: 2,
  PARTITION: 5,
  LOGICAL_VOLUME: 6,
  TERMINATING: 8,
  FILE_SET: 256,
  FILE_ID: 257,
  FILE_ENTRY: 261,
  EXTENDED_FILE_ENTRY: 266,
} as const;

/** Descriptor tag (3/7.2): identifier, checksum over bytes 0–15 except byte 4, and the sector it claims. */
function tagOf(buf: Buffer, off = 0): { id: number; location: number } | null {
  if (off + 16 > buf.length) return null;
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum = (sum + (buf[off + i] ?? 0)) & 0xff;
  if (sum !== buf[off + 4]) return null;
  return { id: buf.readUInt16LE(off), location: buf.readUInt32LE(off + 12) };
}

/** OSTA CS0 compressed Unicode (UDF 2.1.1): compression id 8 (one byte a char) or 16 (UTF-16BE). */
function cs0(buf: Buffer): string {
  const comp = buf[0];
  const body = buf.subarray(1);
  if (comp === 16 || comp === 255) {
    const even = Buffer.from(body.subarray(0, body.length - (body.length % 2)));
    even.swap16();
    return even.toString('utf16le');
  }
  return body.toString('latin1');
}

/** A dstring field (1/7.2.12): its last byte is the length used. */
function dstring(field: Buffer): string | null {
  const used = field[field.length - 1] ?? 0;
  if (used === 0) return null;
  // eslint-disable-next-line no-control-regex
  const s = cs0(field.subarray(0, used)).replace(/[\u0000\s]+$/, '');
  return s.length ? s : null;
}

interface LongAd {
  readonly length: number;
  readonly lbn: number;
  readonly partitionRef: number;
}

function longAd(buf: Buffer, off: number): LongAd {
  return {
    length: buf.readUInt32LE(off) & 0x3fffffff,
    lbn: buf.readUInt32LE(off + 4),
    partitionRef: buf.readUInt16LE(off + 8),
  };
}

export interface UdfVolume {
  readonly label: string | null;
  /** The tree, or null with a reason when the layout is one this reader does not walk. */
  readonly tree: FsTree | null;
  readonly note: string | null;
}

/**
 * Reads the Anchor Volume Descriptor Pointer at sector 256 and the main Volume Descriptor
 * Sequence; returns the logical volume identifier and a tree over the file set.
 */
export async function readUdf(iso: IsoFile): Promise<UdfVolume> {
  if (iso.sizeBytes < 257 * SECTOR) return { label: null, tree: null, note: 'the image ends before sector 256' };
  const avdp = await iso.sectors(256, 1, 'the UDF anchor (sector 256)');
  const t = tagOf(avdp);
  if (!t || t.id !== TAG.AVDP) return { label: null, tree: null, note: 'no UDF anchor at sector 256' };
  const vdsLength = avdp.readUInt32LE(16);
  const vdsLocation = avdp.readUInt32LE(20);
  const sectors = Math.min(64, Math.ceil(vdsLength / SECTOR));
  const vds = await iso.sectors(vdsLocation, sectors, 'the UDF volume descriptor sequence');
  const partitions = new Map<number, number>(); // partition number → starting sector
  let lvd: Buffer | null = null;
  for (let i = 0; i < sectors; i++) {
    const s = vds.subarray(i * SECTOR, (i + 1) * SECTOR);
    const tag = tagOf(s);
    if (!tag || tag.id === TAG.TERMINATING) break;
    if (tag.id === TAG.PARTITION) partitions.set(s.readUInt16LE(22), s.readUInt32LE(188));
    else if (tag.id === TAG.LOGICAL_VOLUME && !lvd) lvd = Buffer.from(s);
  }
  if (!lvd) return { label: null, tree: null, note: 'no UDF logical volume descriptor' };
  const label = dstring(lvd.subarray(84, 84 + 128));
  const blockSize = lvd.readUInt32LE(212);
  if (blockSize !== SECTOR) return { label, tree: null, note: `UDF logical block size ${blockSize} (expected 2048)` };
  // Partition maps (3/10.7): a type 1 map names a physical partition; type 2 (metadata,
  // sparable, virtual: UDF 2.x rewritable media) is not walked here.
  const mapCount = lvd.readUInt32LE(268);
  const starts: number[] = [];
  let off = 440;
  for (let i = 0; i < mapCount && off + 2 <= lvd.length; i++) {
    const type = lvd[off];
    const len = lvd[off + 1] ?? 0;
    if (type === 1) {
      const start = partitions.get(lvd.readUInt16LE(off + 4));
      if (start === undefined) return { label, tree: null, note: 'a UDF partition map names a missing partition' };
      starts.push(start);
    } else {
      return { label, tree: null, note: 'UDF 2.x partition maps (metadata/sparable) are not read' };
    }
    if (len === 0) break;
    off += len;
  }
  if (starts.length === 0) return { label, tree: null, note: 'no UDF partition map' };
  const fsdAd = longAd(lvd, 248);
  const tree = new UdfTree(iso, starts);
  const fsd = await iso.read(tree.offsetOf(fsdAd.partitionRef, fsdAd.lbn), SECTOR, 'the UDF file set descriptor');
  const fsdTag = tagOf(fsd);
  if (!fsdTag || fsdTag.id !== TAG.FILE_SET) return { label, tree: null, note: 'no UDF file set descriptor' };
  tree.setRoot(longAd(fsd, 400));
  return { label, tree, note: null };
}

class UdfTree implements FsTree {
  readonly kind = 'udf' as const;
  root!: TreeNode;

  constructor(
    private readonly iso: IsoFile,
    private readonly partitionStarts: readonly number[],
  ) {}

  offsetOf(partitionRef: number, lbn: number): number {
    const start = this.partitionStarts[partitionRef];
    if (start === undefined) throw new Error(`UDF partition reference ${partitionRef} out of range`);
    return (start + lbn) * SECTOR;
  }

  setRoot(icb: LongAd): void {
    this.root = this.node('', true, icb);
  }

  private node(name: string, isDir: boolean, icb: LongAd): TreeNode {
    let cached: Promise<NodeData> | null = null;
    return { name, isDir, data: () => (cached ??= this.readEntry(icb)) };
  }

  /** A File Entry (4/14.9) or Extended File Entry (4/14.17): size and allocation descriptors. */
  private async readEntry(icb: LongAd): Promise<NodeData> {
    const fe = await this.iso.read(this.offsetOf(icb.partitionRef, icb.lbn), SECTOR, 'a UDF file entry');
    const tag = tagOf(fe);
    if (!tag || (tag.id !== TAG.FILE_ENTRY && tag.id !== TAG.EXTENDED_FILE_ENTRY)) {
      throw new Error(`no UDF file entry at block ${icb.lbn}`);
    }
    const extended = tag.id === TAG.EXTENDED_FILE_ENTRY;
    const size = Number(fe.readBigUInt64LE(56));
    const lEa = fe.readUInt32LE(extended ? 208 : 168);
    const lAd = fe.readUInt32LE(extended ? 212 : 172);
    const adStart = (extended ? 216 : 176) + lEa;
    const ads = fe.subarray(adStart, Math.min(fe.length, adStart + lAd));
    const adType = fe.readUInt16LE(34) & 0x7; // ICB tag flags (4/14.6.8)
    if (adType === 3) return { size, extents: [], inline: Buffer.from(ads.subarray(0, size)) };
    const extents: Extent[] = [];
    const step = adType === 0 ? 8 : adType === 1 ? 16 : 20;
    for (let o = 0; o + step <= ads.length; o += step) {
      const raw = ads.readUInt32LE(o);
      const length = raw & 0x3fffffff;
      const kind = raw >>> 30; // 0 recorded, 1 allocated only, 2 sparse, 3 continuation
      if (length === 0) break;
      if (kind === 3) break; // continuation extents of descriptors: not needed for what the detector reads
      const lbn = ads.readUInt32LE(o + 4);
      const part = adType === 0 ? icb.partitionRef : ads.readUInt16LE(o + 8);
      if (kind === 0) extents.push({ offset: this.offsetOf(part, lbn), length });
    }
    return { size, extents };
  }

  /** File Identifier Descriptors (4/14.4) of a directory. */
  async list(dir: TreeNode): Promise<TreeNode[]> {
    const d = await dir.data();
    const size = Math.min(d.size, MAX_DIR_BYTES);
    let buf: Buffer;
    if (d.inline) buf = d.inline;
    else {
      const parts: Buffer[] = [];
      let got = 0;
      for (const e of d.extents) {
        if (got >= size) break;
        const n = Math.min(e.length, size - got);
        parts.push(await this.iso.read(e.offset, n, `the UDF folder ${dir.name || '/'}`));
        got += n;
      }
      buf = Buffer.concat(parts);
    }
    const out: TreeNode[] = [];
    let off = 0;
    while (off + 38 <= buf.length) {
      const tag = tagOf(buf, off);
      if (!tag || tag.id !== TAG.FILE_ID) break;
      const characteristics = buf[off + 18] ?? 0;
      const lFi = buf[off + 19] ?? 0;
      const icb = longAd(buf, off + 20);
      const lIu = buf.readUInt16LE(off + 36);
      const nameStart = off + 38 + lIu;
      const deleted = (characteristics & 0x04) !== 0;
      const parent = (characteristics & 0x08) !== 0;
      if (!deleted && !parent && lFi > 0) {
        out.push(this.node(cs0(buf.subarray(nameStart, nameStart + lFi)), (characteristics & 0x02) !== 0, icb));
      }
      off += (38 + lIu + lFi + 3) & ~3;
    }
    return out;
  }
}
