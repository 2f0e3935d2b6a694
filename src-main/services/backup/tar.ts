// The tar format, as Maru writes and reads it (POSIX.1-2001 "pax" interchange format: ustar
// headers, with a pax extended header for names that do not fit ustar and for files of 8 GiB
// or more): header blocks built and parsed here, bodies streamed by the caller. Pure: no I/O.
import { AppError } from '../../../src-shared/errors';

/** Tar's unit: headers are one block, bodies are padded to whole blocks. */
export const TAR_BLOCK = 512;
/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

/** Largest size an ustar size field holds (11 octal digits): 8 GiB - 1. */
const USTAR_MAX_SIZE = 8 ** 11 - 1;
const USTAR_MAX_MTIME = 8 ** 11 - 1;

export type TarEntryType = 'file' | 'folder';

export interface TarEntry {
  /** Slash-separated, relative, no trailing slash. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Body bytes (0 for folders). */
  readonly size: number;
  /** Permission bits (0o777 at most). */
  readonly mode: number;
  /** Seconds since 1970. */
  readonly mtime: number;
}

/** Bytes of padding after a body of `size` bytes. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

function writeString(block: Buffer, offset: number, length: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > length) throw new Error(`tar: "${text}" does not fit a ${length}-byte field`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // length - 1 digits and a NUL, as POSIX asks.
  writeString(block, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes), or null when it cannot. */
function ustarName(p: string): { prefix: string; name: string } | null {
  if (!/^[\x20-\x7e]*$/.test(p)) return null; // non-ASCII names go to the pax header
  if (p.length <= 100) return { prefix: '', name: p };
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
  }
  return null;
}

function ustarBlock(entry: TarEntry, name: { prefix: string; name: string }, size: number, type: string): Buffer {
  const block = Buffer.alloc(TAR_BLOCK);
  writeString(block, 0, 100, name.name);
  writeOctal(block, 100, 8, entry.mode & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.max(0, Math.min(USTAR_MAX_MTIME, Math.floor(entry.mtime))));
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 345, 155, name.prefix);
  writeString(block, 148, 8, checksumOf(block).toString(8).padStart(6, '0') + '\0 ');
  return block;
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** One pax record, "<length> <key>=<value>\n", where the length counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  let len = bodyBytes + 1;
  while (String(len).length + bodyBytes !== len) len = String(len).length + bodyBytes;
  return `${len}${body}`;
}

/**
 * The header block(s) of one entry: a pax extended header first when the name is not plain
 * ASCII or too long for ustar, or the size is 8 GiB or more; then the ustar header.
 */
export function tarHeader(entry: TarEntry): Buffer {
  const type = entry.type === 'folder' ? '5' : '0';
  const fullPath = entry.type === 'folder' ? `${entry.path}/` : entry.path;
  const size = entry.type === 'folder' ? 0 : entry.size;
  const records: string[] = [];
  let name = ustarName(fullPath);
  if (name === null) {
    records.push(paxRecord('path', fullPath));
    const base = fullPath.replace(/\/$/, '').split('/').pop() ?? 'entry';

    name = { prefix: '', name: base.replace(/[^\x20-\x7e]/g, '_').slice(0, 99) };
  }
  if (size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(size)));
  const header = ustarBlock(entry, name, size > USTAR_MAX_SIZE ? 0 : size, type);
  if (records.length === 0) return header;
  const pax = Buffer.from(records.join(''), 'utf8');
  const paxHeader = ustarBlock(
    { path: '', type: 'file', size: pax.length, mode: 0o644, mtime: entry.mtime },
    { prefix: '', name: `PaxHeader/${name.name}`.slice(0, 100) },
    pax.length,
    'x',
  );
  return Buffer.concat([paxHeader, pax, Buffer.alloc(tarPadding(pax.length)), header]);
}

/** A header block as read: what it says, before any pax header applies. */
export interface TarRawHeader {
  readonly path: string;
  /** The type flag: '0' (or NUL) file, '5' folder, 'x' pax header, 'g' global pax, others. */
  readonly typeflag: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian, the first byte's top bit set (positive numbers only here).
    let n = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = readString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`its ${what} field is not an octal number`);
  return parseInt(text, 8);
}

/** A block that is not a tar header (bad checksum, no ustar magic, unreadable fields). */
export class TarFormatError extends Error {}

/** Parses one header block; null for a zero block (the end of the archive). */
export function parseTarHeader(block: Buffer): TarRawHeader | null {
  if (block.length !== TAR_BLOCK) throw new TarFormatError('the header block is cut short');
  if (block.every((b) => b === 0)) return null;
  const stored = readNumber(block, 148, 8, 'checksum');
  if (stored !== checksumOf(block)) throw new TarFormatError('its header checksum does not match');
  const magic = block.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0' && magic !== 'ustar ') throw new TarFormatError('it is not a ustar header');
  const prefix = readString(block, 345, 155);
  const name = readString(block, 0, 100);
  return {
    path: prefix ? `${prefix}/${name}` : name,
    typeflag: String.fromCharCode(block[156]!) === '\0' ? '0' : String.fromCharCode(block[156]!),
    size: readNumber(block, 124, 12, 'size'),
    mode: readNumber(block, 100, 8, 'mode'),
    mtime: readNumber(block, 136, 12, 'time'),
  };
}

/** The records of a pax extended header body. */
export function parsePaxRecords(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space < 0) throw new TarFormatError('a pax record has no length');
    const len = Number(body.subarray(at, space).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= space - at + 1 || at + len > body.length) {
      throw new TarFormatError('a pax record has a bad length');
    }
    const record = body.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0 || body[at + len - 1] !== 0x0a) throw new TarFormatError('a pax record is malformed');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/**
 * Why `p` may not be extracted (absolute, `..`, empty parts, backslashes, control characters),
 * or null: archive names are only ever placed under the extraction folder.
 */
export function unsafeEntryPath(p: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (p === '' || /[\\\0-\x1f]/.test(p)) return 'it is empty or holds a backslash or a control character';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'it is an absolute path';
  const parts = p.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) {
    return 'it holds an empty, "." or ".." part';
  }
  return null;
}

/** An AppError for an archive that is not readable as tar. */
export function damagedArchive(file: string, why: string): AppError {
  return new AppError(
    'INVALID_ARGUMENT',
    `${file} is damaged or not a Maru VM archive: ${why}. Nothing was imported. Copy the archive again from where it came from.`,
  );
}
