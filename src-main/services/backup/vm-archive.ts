// What a Maru VM archive holds, apart from tar itself: the manifest (first entry), the
// SHA256SUMS list (last entry, in `sha256sum -c` format) and the rules an importer checks them
// by — format and version, file list, checksums. docs/backup.md describes the format.
import * as z from 'zod';
import { AppError } from '../../../src-shared/errors';
import { unsafeEntryPath } from './tar';

export const MANIFEST_FILE = 'manifest.json';
export const CHECKSUMS_FILE = 'SHA256SUMS';
export const ARCHIVE_FORMAT = 'maru-vm-archive';
/** The archive format this Maru writes, and the newest it reads. */
export const ARCHIVE_FORMAT_VERSION = 1;
/** A manifest is small (one line per file); anything larger is not ours. */
export const MANIFEST_MAX_BYTES = 16 * 2 ** 20;

export interface ArchiveFile {
  /** Relative to the VM folder, slash-separated. */
  readonly path: string;
  readonly type: 'file' | 'folder';
  readonly size: number;
  readonly mode: number;
}

/**
 * A disk whose backing file lay outside the VM folder (a linked clone's base): the base is in
 * the archive under `disks/`, and on import the image at `path` is pointed at `backing`
 * (a name relative to the image's folder).
 */
export interface ArchiveRelink {
  readonly path: string;
  readonly backing: string;
}

export interface ArchiveManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly formatVersion: number;
  /** The Maru version that wrote it (package.json). */
  readonly maruVersion: string;
  readonly createdAt: string;
  readonly vm: { readonly id: string; readonly name: string; readonly schemaVersion: number };
  /** The VM folder where it was exported from: paths inside it in the JSON files are rewritten on import. */
  readonly sourceFolder: string;
  /** The VM's state in the archive: off, or saved (it resumes where it was saved). */
  readonly state: 'off' | 'saved';
  /** The live snapshot taken for this export (the VM was running), or null. */
  readonly liveSnapshot: { readonly id: string; readonly name: string } | null;
  /** Every entry between the manifest and SHA256SUMS, in archive order. */
  readonly files: readonly ArchiveFile[];
  readonly relink: readonly ArchiveRelink[];
  /** The entry holding the SHA-256 of every file and of the manifest (the last entry). */
  readonly checksums: typeof CHECKSUMS_FILE;
}

const safePath = z.string().refine((p) => unsafeEntryPath(p) === null, 'an unsafe path');

const manifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  formatVersion: z.number().int().min(1),
  maruVersion: z.string().min(1).max(64),
  createdAt: z.string().max(64),
  vm: z.object({ id: z.string().min(1).max(64), name: z.string().min(1).max(256), schemaVersion: z.number().int() }),
  sourceFolder: z.string().min(1).max(4096),
  state: z.enum(['off', 'saved']),
  liveSnapshot: z.object({ id: z.string(), name: z.string() }).nullable(),
  files: z
    .array(
      z.object({
        path: safePath,
        type: z.enum(['file', 'folder']),
        size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
        mode: z.number().int().min(0).max(0o777),
      }),
    )
    .max(100_000),
  relink: z.array(z.object({ path: safePath, backing: z.string().min(1).max(255) })).max(1000),
  checksums: z.literal(CHECKSUMS_FILE),
});

/**
 * Reads the manifest an archive starts with: not a Maru archive, or one from a newer Maru,
 * or a manifest that breaks the rules, is refused with the reason.
 */
export function parseManifest(archive: string, text: string, ourVersion: string): ArchiveManifest {
  const notOurs = (why: string) =>
    new AppError(
      'INVALID_ARGUMENT',
      `${archive} is not a Maru VM archive: ${why}. Maru imports the .maru files that "maru export" and Export… write.`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw notOurs(`its manifest is not valid JSON (${(err as Error).message})`);
  }
  const r = raw as { format?: unknown; formatVersion?: unknown; maruVersion?: unknown };
  if (typeof raw !== 'object' || raw === null || r.format !== ARCHIVE_FORMAT) {
    throw notOurs('its manifest does not say it is one');
  }
  if (typeof r.formatVersion === 'number' && r.formatVersion > ARCHIVE_FORMAT_VERSION) {
    const by = typeof r.maruVersion === 'string' ? `Maru ${r.maruVersion}` : 'a newer Maru';
    throw new AppError(
      'UNSUPPORTED',
      `${archive} was made by ${by}, which is newer (archive format ${r.formatVersion}; this Maru ${ourVersion} ` +
        `reads up to ${ARCHIVE_FORMAT_VERSION}). Update Maru, then import it again.`,
      { formatVersion: r.formatVersion, maruVersion: r.maruVersion },
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`).join('; ');
    throw new AppError('INVALID_ARGUMENT', `The manifest of ${archive} is damaged (${why}). Nothing was imported.`);
  }
  const m = parsed.data;
  const seen = new Set<string>([MANIFEST_FILE, CHECKSUMS_FILE]);
  for (const f of m.files) {
    if (seen.has(f.path)) {
      throw new AppError('INVALID_ARGUMENT', `The manifest of ${archive} lists ${f.path} twice. Nothing was imported.`);
    }
    seen.add(f.path);
  }
  return m as ArchiveManifest;
}

/** SHA256SUMS as `sha256sum` writes it: "<hex>  <path>" per line. */
export function formatChecksums(sums: ReadonlyMap<string, string>): string {
  return [...sums].map(([p, hex]) => `${hex}  ${p}\n`).join('');
}

/** Parses SHA256SUMS; a line that is not "<64 hex>  <path>" makes it damaged (null). */
export function parseChecksums(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) return null;
    out.set(m[2]!, m[1]!);
  }
  return out;
}
