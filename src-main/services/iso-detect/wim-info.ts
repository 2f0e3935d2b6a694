// What a Windows image file (install.wim / install.esd) says about itself: the WIM header
// (magic "MSWIM", 208 bytes) points at an uncompressed UTF-16 XML resource naming each image,
// its build number and architecture. Only the header and that XML are read.

export interface WimInfo {
  readonly imageCount: number;
  /** Image names, e.g. "Windows 11 Pro". */
  readonly names: readonly string[];
  readonly major: number | null;
  readonly minor: number | null;
  /** The highest build number among the images, e.g. 22631. */
  readonly build: number | null;
  readonly arch: 'x86' | 'x64' | 'arm64' | null;
}

export const WIM_HEADER_SIZE = 208;
/** The XML is a few KiB per image; anything past this is not read. */
export const WIM_XML_MAX = 2 * 1024 * 1024;

/** Where the XML resource lies, from the header (RESHDR_DISK_SHORT at 0x48: 7-byte size, flags, offset). */
export function wimXmlLocation(header: Buffer): { offset: number; size: number; imageCount: number } | null {
  if (header.length < WIM_HEADER_SIZE || header.toString('latin1', 0, 8) !== 'MSWIM\0\0\0') return null;
  const size = header.readUIntLE(72, 6) + (header[78] ?? 0) * 2 ** 48;
  const offset = Number(header.readBigUInt64LE(80));
  if (size === 0 || !Number.isSafeInteger(offset)) return null;
  return { offset, size, imageCount: header.readUInt32LE(44) };
}

function tagValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => (m[1] ?? '').trim());
}

/** Parses the WIM XML (already decoded). */
export function parseWimXml(xml: string, imageCount: number): WimInfo {
  const names = [...new Set(tagValues(xml, 'NAME').filter((n) => n.length > 0))];
  const builds = tagValues(xml, 'BUILD')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const majors = tagValues(xml, 'MAJOR').map(Number);
  const minors = tagValues(xml, 'MINOR').map(Number);
  const archCode = tagValues(xml, 'ARCH')[0];
  // PROCESSOR_ARCHITECTURE_*: 0 x86, 9 AMD64, 12 ARM64.
  const arch = archCode === '9' ? 'x64' : archCode === '0' ? 'x86' : archCode === '12' ? 'arm64' : null;
  return {
    imageCount,
    names,
    major: Number.isInteger(majors[0]) ? majors[0]! : null,
    minor: Number.isInteger(minors[0]) ? minors[0]! : null,
    build: builds.length ? Math.max(...builds) : null,
    arch,
  };
}

/** Decodes the XML resource: UTF-16LE with a BOM (as Windows writes it), else UTF-8. */
export function decodeWimXml(buf: Buffer): string {
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  return buf.toString('utf8');
}
