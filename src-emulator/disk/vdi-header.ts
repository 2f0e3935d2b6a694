// VirtualBox VDI images, read-only and only as far as checking one is whole: the header and
// the block map, to find a file cut short (qemu-img check does not see it, and a conversion
// would silently read zeros where the missing blocks were).
import { open } from 'node:fs/promises';

/** "<<< Oracle VM VirtualBox Disk Image >>>" images carry this at byte 0x40 (little-endian). */
const VDI_SIGNATURE = 0xbeda107f;
/** Block map entries: not allocated (reads as zeros) and discarded (zeros too). */
const BLOCK_FREE = 0xffffffff;
const BLOCK_ZERO = 0xfffffffe;
const HEADER_BYTES = 0x190;

export interface VdiLayout {
  readonly blockBytes: number;
  readonly blocksInImage: number;
  /** The highest allocated block's index + 1 (0 when none is). */
  readonly usedBlocks: number;
  /** The file length the allocated blocks need: data offset + usedBlocks × block size. */
  readonly neededBytes: number;
  readonly fileBytes: number;
}

/**
 * The layout of a VDI image (header v1.1, as VirtualBox and QEMU write it), or null when the
 * file is not one. Reads the header and the block map only.
 */
export async function readVdiLayout(file: string): Promise<VdiLayout | null> {
  const fh = await open(file, 'r');
  try {
    const fileBytes = (await fh.stat()).size;
    const h = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(h, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || h.readUInt32LE(0x40) !== VDI_SIGNATURE) return null;
    const offsetBmap = h.readUInt32LE(0x154);
    const offsetData = h.readUInt32LE(0x158);
    const blockBytes = h.readUInt32LE(0x178);
    const blockExtra = h.readUInt32LE(0x17c);
    const blocksInImage = h.readUInt32LE(0x180);
    if (blockBytes === 0) return null;
    const map = Buffer.alloc(blocksInImage * 4);
    const got = map.length ? (await fh.read(map, 0, map.length, offsetBmap)).bytesRead : 0;
    let usedBlocks = 0;
    for (let i = 0; i + 4 <= got; i += 4) {
      const entry = map.readUInt32LE(i);
      if (entry !== BLOCK_FREE && entry !== BLOCK_ZERO && entry + 1 > usedBlocks) usedBlocks = entry + 1;
    }
    // A block map cut short is itself a truncation: count it as needing the whole map.
    const mapEnd = offsetBmap + blocksInImage * 4;
    const neededBytes = Math.max(mapEnd, offsetData + usedBlocks * (blockBytes + blockExtra));
    return { blockBytes, blocksInImage, usedBlocks, neededBytes, fileBytes };
  } finally {
    await fh.close();
  }
}
