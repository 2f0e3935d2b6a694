// The probe's cache, $MARU_HOME/host-probe.json: its key (what invalidates a verdict), and
// reading and atomic writing. It is our own cache: anything unreadable is simply re-probed.
import { readFile } from 'node:fs/promises';
import type { HostInfo } from '../../../src-shared/host-info';
import { AppError } from '../../../src-shared/errors';
import { writeFileAtomic } from '../../../src-node/atomic-file';
import { isFsError, type LocatedFile } from './tool-discovery';

export const HOST_PROBE_CACHE_FILE = 'host-probe.json';

/** Everything a cached verdict depends on; any change means a new probe. */
export interface ProbeCacheKey {
  readonly probeVersion: number;
  readonly platform: string;
  readonly arch: string;
  /** `os.release()`: a kernel update can fix or break KVM. */
  readonly kernelRelease: string;
  readonly kvmDevice: boolean;
  /** The QEMU programs found (system binaries and qemu-img): path, size, mtime. */
  readonly qemu: readonly LocatedFile[];
  readonly swtpm: LocatedFile | null;
  /** Firmware paths found ('' for a missing one): installing OVMF shows up without --refresh. */
  readonly firmware: readonly string[];
  readonly dataFolder: string;
}

export interface ProbeCacheEntry {
  readonly key: ProbeCacheKey;
  readonly info: HostInfo;
}

export function sameCacheKey(a: ProbeCacheKey, b: ProbeCacheKey): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with sorted object keys, so key order never makes two equal keys differ. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
        )
      : v,
  );
}

/** The cached entry, or null when there is none or it is unreadable, corrupt or from another probe version. */
export async function readProbeCache(file: string, probeVersion: number): Promise<ProbeCacheEntry | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isFsError(err)) return null; // no cache yet (or unreadable): probe afresh
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return null; // torn or hand-edited: probe afresh
    throw err;
  }
  return isCacheEntry(parsed, probeVersion) ? parsed : null;
}

function isCacheEntry(v: unknown, probeVersion: number): v is ProbeCacheEntry {
  if (typeof v !== 'object' || v === null) return false;
  const { key, info } = v as { key?: unknown; info?: unknown };
  if (typeof key !== 'object' || key === null || typeof info !== 'object' || info === null) return false;
  const k = key as Partial<ProbeCacheKey>;
  const i = info as Partial<HostInfo>;
  return (
    k.probeVersion === probeVersion &&
    i.probeVersion === probeVersion &&
    typeof i.probedAt === 'string' &&
    typeof i.qemu === 'object' &&
    i.qemu !== null &&
    Array.isArray(i.qemu.binaries) &&
    typeof i.firmware === 'object' &&
    typeof i.dataFolder === 'object' &&
    Array.isArray(i.accelerators) &&
    Array.isArray(i.findings)
  );
}

/** Writes the cache atomically (temp file, fsync, rename, fsync of the folder). */
export async function writeProbeCache(file: string, entry: ProbeCacheEntry): Promise<void> {
  try {
    await writeFileAtomic(file, JSON.stringify(entry, null, 2) + '\n');
  } catch (err) {
    if (!isFsError(err)) throw err;
    throw new AppError(
      'IO',
      `Cannot write the host probe cache ${file}: ${err.message}. Check that the Maru data folder is writable.`,
      { path: file, cause: err.code },
    );
  }
}
