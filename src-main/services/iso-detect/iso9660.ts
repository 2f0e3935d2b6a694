// ISO 9660 (ECMA-119) volume descriptors, directory records with Joliet and Rock Ridge
// names, and the El Torito boot catalog. Offsets cite ECMA-119 §8/§9 and El Torito 1.0.
import { AppError } from '../../../src-shared/errors';
import { formatBytes } from '../../../src-shared/format-bytes';
import { knownNode, MAX_DIR_BYTES, type Extent, type FsTree, type TreeKind, type TreeNode } from './fs-tree';
import { IsoFile, SECTOR, TruncatedError } from './iso-file';

/** Byte 32768 = sector 16: where the volume descriptor set starts (ECMA-119 §6.2.1). */
export const DESCRIPTORS_OFFSET = 16 * SECTOR;

export interface VolumeDescriptors {
  /** The Primary Volume Descriptor (type 1), or null (a UDF-only medium). */
  readonly primary: Buffer | null;
  /** A Joliet Supplementary Volume Descriptor (type 2 with a UCS-2 escape sequence). */
  readonly joliet: Buffer | null;
  /** Sector of the El Torito boot catalog, from the Boot Record (type 0). */
  readonly bootCatalogLba: number | null;
  /** UDF Volume Recognition Sequence (ECMA-167 2/9.1): BEA01 … NSR02|NSR03 … TEA01. */
  readonly udfNsr: 2 | 3 | null;
  readonly hasCd001: boolean;
}

const MAX_DESCRIPTORS = 64;

function sniff(head: Buffer): string | null {
  if (head.subarray(0, 4).toString('latin1') === 'QFI\xfb') return 'a qcow2 disk image';
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'a ZIP archive';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'a gzip-compressed file';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'an xz-compressed file';
  if (head.subarray(0, 6).equals(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))) return 'a 7-Zip archive';
  if (head.subarray(0, 4).toString('latin1') === 'KDMV') return 'a VMware disk image (VMDK)';
  if (head.subarray(0, 8).toString('latin1') === 'conectix') return 'a Hyper-V/Virtual PC disk image (VHD)';
  if (head.subarray(0, 2).toString('latin1') === 'MZ') return 'a Windows program';
  if (head.subarray(0, 4).toString('latin1') === '\x7fELF') return 'a Linux program (ELF)';
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return 'a raw disk image (it has a boot sector)';
  return null;
}

/** The reason a file is not an ISO, in the detector's words. */
function notAnIso(iso: IsoFile, why: string, head?: Buffer): AppError {
  const looks = head ? sniff(head) : null;
  return new AppError(
    'INVALID_ARGUMENT',
    `${iso.path} is not an ISO image (${why})${looks ? `; it looks like ${looks}` : ''}.`,
    { path: iso.path },
  );
}

function idOf(sector: Buffer): string {
  return sector.subarray(1, 6).toString('latin1');
}

/**
 * Reads the volume descriptor set and the UDF recognition sequence. Throws AppError for an
 * empty file, a file too short to be an image, one without CD001/BEA01 at byte 32769, and a
 * truncated image (its volume is larger than the file).
 */
export async function readVolumeDescriptors(iso: IsoFile): Promise<VolumeDescriptors> {
  if (iso.sizeBytes === 0) {
    throw new AppError('INVALID_ARGUMENT', `${iso.path} is empty (0 bytes): it is not an ISO image.`, {
      path: iso.path,
    });
  }
  const head = await iso.read(0, Math.min(iso.sizeBytes, 512), 'the first sector');
  if (iso.sizeBytes < DESCRIPTORS_OFFSET + SECTOR) {
    throw notAnIso(
      iso,
      `it has only ${iso.sizeBytes} bytes; an ISO image keeps its volume descriptors at byte ${DESCRIPTORS_OFFSET}`,
      head,
    );
  }
  let primary: Buffer | null = null;
  let joliet: Buffer | null = null;
  let bootCatalogLba: number | null = null;
  let udfNsr: 2 | 3 | null = null;
  let hasCd001 = false;
  let sawBea = false;
  let cutShort = false;
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    let s: Buffer;
    try {
      s = await iso.sectors(16 + i, 1, 'a volume descriptor');
    } catch (err) {
      if (err instanceof TruncatedError && i > 0) {
        cutShort = true;
        break;
      }
      throw err;
    }
    const id = idOf(s);
    if (i === 0 && id !== 'CD001' && id !== 'BEA01') {
      throw notAnIso(iso, `no CD001 signature at byte ${DESCRIPTORS_OFFSET + 1}`, head);
    }
    if (id === 'CD001') {
      hasCd001 = true;
      const type = s[0];
      if (type === 1 && !primary) primary = s;
      else if (type === 2 && !joliet && isJolietEscape(s)) joliet = s;
      else if (type === 0 && s.subarray(7, 30).toString('latin1') === 'EL TORITO SPECIFICATION') {
        bootCatalogLba = s.readUInt32LE(71);
      }
      // type 255 ends the ISO set; a UDF recognition sequence may follow (a "bridge" medium).
      continue;
    }
    if (id === 'BEA01') {
      sawBea = true;
      continue;
    }
    if (id === 'NSR02' || id === 'NSR03') {
      if (sawBea) udfNsr = id === 'NSR02' ? 2 : 3;
      continue;
    }
    if (id === 'BOOT2' || id === 'CDW02') continue;
    // TEA01 ends the recognition sequence; anything else is past the descriptors.
    break;
  }
  if (primary) {
    const blockSize = primary.readUInt16LE(128) || SECTOR;
    const volumeBytes = primary.readUInt32LE(80) * blockSize;
    // Mastering tools may leave out a CD-R run-out of up to 150 sectors; a shorter file is truncated.
    if (volumeBytes - iso.sizeBytes > 150 * SECTOR) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${iso.path} is truncated: its volume descriptor says the image holds ${formatSize(volumeBytes)}, ` +
          `but the file has only ${formatSize(iso.sizeBytes)}. The download or copy was probably interrupted; ` +
          'get the ISO again.',
        { path: iso.path, volumeBytes, sizeBytes: iso.sizeBytes },
      );
    }
  }
  if (cutShort && !primary) throw new TruncatedError(iso.path, iso.sizeBytes, iso.sizeBytes, 'a volume descriptor');
  if (!hasCd001 && udfNsr === null) throw notAnIso(iso, 'a UDF recognition sequence without NSR02/NSR03', head);
  return { primary, joliet, bootCatalogLba, udfNsr, hasCd001 };
}

function formatSize(bytes: number): string {
  return formatBytes(bytes, { oneDecimal: true });
}

/** Joliet: escape sequence %/@, %/C or %/E (UCS-2 levels 1–3) at byte 88 (Joliet spec §4). */
function isJolietEscape(svd: Buffer): boolean {
  return svd[88] === 0x25 && svd[89] === 0x2f && (svd[90] === 0x40 || svd[90] === 0x43 || svd[90] === 0x45);
}

function ucs2be(buf: Buffer): string {
  const even = buf.subarray(0, buf.length - (buf.length % 2));
  const swapped = Buffer.from(even);
  swapped.swap16();
  return swapped.toString('utf16le');
}

/** Volume identifier (bytes 40–71): a-characters in the PVD, UCS-2 BE in a Joliet SVD. */
export function volumeLabel(vd: Buffer, joliet: boolean): string | null {
  const raw = vd.subarray(40, 72);
  // eslint-disable-next-line no-control-regex
  const text = (joliet ? ucs2be(raw) : raw.toString('latin1')).replace(/[\u0000\s]+$/, '').trim();
  return text.length > 0 ? text : null;
}

interface DirRecord {
  readonly name: string;
  readonly isDir: boolean;
  readonly lba: number;
  readonly size: number;
  /** More extents of the same file follow (ECMA-119 §9.1.6 bit 7). */
  readonly multiExtent: boolean;
  readonly systemUse: Buffer;
}

/** Parses one directory record (ECMA-119 §9.1) at `off`; null at a zero length byte. */
function parseRecord(buf: Buffer, off: number, joliet: boolean): { rec: DirRecord; length: number } | null {
  const len = buf[off] ?? 0;
  if (len === 0 || off + len > buf.length || len < 34) return null;
  const nameLen = buf[off + 32] ?? 0;
  const rawName = buf.subarray(off + 33, off + 33 + nameLen);
  let name: string;
  if (nameLen === 1 && rawName[0] === 0) name = '.';
  else if (nameLen === 1 && rawName[0] === 1) name = '..';
  else name = joliet ? ucs2be(rawName) : rawName.toString('latin1');
  const suStart = off + 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
  return {
    rec: {
      name,
      isDir: ((buf[off + 25] ?? 0) & 0x02) !== 0,
      lba: buf.readUInt32LE(off + 2),
      size: buf.readUInt32LE(off + 10),
      multiExtent: ((buf[off + 25] ?? 0) & 0x80) !== 0,
      systemUse: buf.subarray(suStart, off + len),
    },
    length: len,
  };
}

/** Rock Ridge alternate name (RRIP "NM" entries, IEEE P1282 §4.1.4) from a System Use area. */
function rockRidgeName(su: Buffer, skip: number): string | null {
  let off = skip;
  let name = '';
  let found = false;
  while (off + 4 <= su.length) {
    const sig = su.subarray(off, off + 2).toString('latin1');
    const len = su[off + 2] ?? 0;
    if (len < 4 || off + len > su.length) break;
    if (sig === 'NM') {
      const flags = su[off + 4] ?? 0;
      // Flags 2/4 = "." / ".."; only real names are taken.
      if ((flags & 0x06) === 0) {
        name += su.subarray(off + 5, off + len).toString('utf8');
        found = true;
      }
    }
    if (sig === 'ST') break;
    off += len;
  }
  return found ? name : null;
}

/** An ISO 9660 directory tree: plain, with Rock Ridge names, or Joliet. */
export class Iso9660Tree implements FsTree {
  readonly kind: TreeKind;
  readonly root: TreeNode;
  private readonly suspSkip: number;

  private constructor(
    private readonly iso: IsoFile,
    private readonly joliet: boolean,
    rootRecord: DirRecord,
    rockRidge: { skip: number } | null,
  ) {
    this.kind = joliet ? 'joliet' : rockRidge ? 'rock-ridge' : 'iso9660';
    this.suspSkip = rockRidge?.skip ?? -1;
    this.root = knownNode('', true, {
      size: rootRecord.size,
      extents: [{ offset: rootRecord.lba * SECTOR, length: rootRecord.size }],
    });
  }

  /** The tree of a PVD (checking the root's "." entry for Rock Ridge's SUSP "SP") or a Joliet SVD. */
  static async open(iso: IsoFile, vd: Buffer, joliet: boolean): Promise<Iso9660Tree> {
    const parsed = parseRecord(vd, 156, false);
    if (!parsed) throw new AppError('INVALID_ARGUMENT', `${iso.path}: the volume descriptor has no root directory.`);
    const root = parsed.rec;
    let rockRidge: { skip: number } | null = null;
    if (!joliet && root.size > 0) {
      const first = await iso.sectors(root.lba, 1, 'the root directory');
      const dot = parseRecord(first, 0, false);
      const su = dot?.rec.systemUse;
      // SUSP "SP" (IEEE P1281 §5.3): BE EF check bytes, then LEN_SKP.
      if (su && su.length >= 7 && su.toString('latin1', 0, 2) === 'SP' && su[4] === 0xbe && su[5] === 0xef) {
        rockRidge = { skip: su[6] ?? 0 };
      }
    }
    return new Iso9660Tree(iso, joliet, root, rockRidge);
  }

  async list(dir: TreeNode): Promise<TreeNode[]> {
    const extent = (await dir.data()).extents[0];
    if (!extent || extent.length === 0) return [];
    const length = Math.min(extent.length, MAX_DIR_BYTES);
    const buf = await this.iso.read(
      extent.offset,
      Math.ceil(length / SECTOR) * SECTOR,
      `the folder ${dir.name || '/'}`,
    );
    const out: TreeNode[] = [];
    let pending: { name: string; size: number; extents: Extent[] } | null = null;
    for (let sector = 0; sector < buf.length; sector += SECTOR) {
      let off = sector;
      while (off < sector + SECTOR) {
        const parsed = parseRecord(buf, off, this.joliet);
        if (!parsed) break; // records never cross a sector: the rest of this one is padding
        off += parsed.length;
        const r = parsed.rec;
        if (r.name === '.' || r.name === '..') continue;
        const name = (this.suspSkip >= 0 ? rockRidgeName(r.systemUse, this.suspSkip) : null) ?? r.name;
        const ext = { offset: r.lba * SECTOR, length: r.size };
        if (pending && pending.name === name) {
          pending.extents.push(ext);
          pending.size += r.size;
        } else {
          pending = { name, size: r.size, extents: [ext] };
        }
        if (!r.multiExtent) {
          out.push(knownNode(pending.name, r.isDir, { size: pending.size, extents: pending.extents }));
          pending = null;
        }
      }
    }
    return out;
  }
}

export interface BootCatalog {
  readonly bios: boolean;
  readonly uefi: boolean;
  /** Platform ids of the bootable entries (0x00 x86 BIOS, 0xEF UEFI, 0x01 PowerPC, 0x02 Mac). */
  readonly platforms: readonly number[];
}

/**
 * Parses an El Torito boot catalog: the validation entry (header 01, key 55 AA, word sum 0),
 * the initial/default entry, then section headers (90 more / 91 last) with their entries.
 * Returns null when the validation entry is not valid.
 */
export function parseBootCatalog(buf: Buffer): BootCatalog | null {
  if (buf.length < 64 || buf[0] !== 0x01 || buf[30] !== 0x55 || buf[31] !== 0xaa) return null;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + buf.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) return null;
  const platforms: number[] = [];
  if (buf[32] === 0x88) platforms.push(buf[1] ?? 0);
  let off = 64;
  while (off + 32 <= buf.length) {
    const header = buf[off];
    if (header !== 0x90 && header !== 0x91) break;
    const platform = buf[off + 1] ?? 0;
    const count = buf.readUInt16LE(off + 2);
    off += 32;
    let seen = 0;
    while (seen < count && off + 32 <= buf.length) {
      const indicator = buf[off];
      off += 32;
      if (indicator === 0x44) continue; // section entry extension
      if (indicator === 0x88) platforms.push(platform);
      seen++;
    }
    if (header === 0x91) break;
  }
  return { bios: platforms.includes(0x00), uefi: platforms.includes(0xef), platforms };
}

/** Reads the boot catalog sector(s) at `lba`. */
export async function readBootCatalog(iso: IsoFile, lba: number): Promise<BootCatalog | null> {
  const count = Math.min(4, Math.max(1, Math.floor(iso.sizeBytes / SECTOR) - lba));
  return parseBootCatalog(await iso.sectors(lba, count, 'the El Torito boot catalog'));
}
