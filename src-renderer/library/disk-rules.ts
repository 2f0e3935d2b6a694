// What the Disks list may do and what its Grow dialog accepts (pure): disks change only while
// their VM is off, and a new size is a number of GiB larger than the disk is now and within
// Maru's limit. The service checks the same again; these make the dialog say why at once.
import { DISK_MAX_BYTES } from '../../src-shared/contracts/disks';
import type { VmPowerState } from '../../src-shared/contracts/library';

export const GIB = 1024 ** 3;
/** The service rounds a new size up to whole 512-byte sectors. */
const SECTOR = 512;

/** Why a VM's disks cannot be grown or compacted now: it runs, or it has a saved state. Null: they can. */
export type DiskLock = 'running' | 'saved';

export function diskLock(state: VmPowerState): DiskLock | null {
  if (state === 'running' || state === 'paused') return 'running';
  if (state === 'saved') return 'saved';
  // 'aborted': the service ends what a dead engine host left holding the images first.
  return null;
}

/** A size in GiB as the Grow dialog writes it: rounded up to two decimals, no trailing zeros. */
export function gibText(bytes: number): string {
  return String(Math.ceil((bytes / GIB) * 100 - 1e-9) / 100);
}

/** Bytes the service is asked for, for `gib` GiB (whole sectors, as the service rounds). */
export function growBytes(gib: number): number {
  return Math.ceil((gib * GIB) / SECTOR) * SECTOR;
}

/**
 * Why the Grow dialog's value is refused: `number` — not a positive number of GiB; `same` — the
 * disk's size now (nothing would change); `shrink` — smaller than the disk (Maru never shrinks);
 * `max` — more than a disk may be.
 */
export type GrowProblem = 'number' | 'same' | 'shrink' | 'max';

/** The new size of the Grow dialog in bytes, or why it is refused. */
export function parseGrowSize(
  text: string,
  currentBytes: number,
): { readonly bytes: number; readonly problem: null } | { readonly bytes: null; readonly problem: GrowProblem } {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed) || Number(trimmed) <= 0) return { bytes: null, problem: 'number' };
  const gib = Number(trimmed);
  const bytes = growBytes(gib);
  // The size as the dialog showed it (rounded) stands for the disk's exact size.
  if (gib === Number(gibText(currentBytes)) || bytes === currentBytes) return { bytes: null, problem: 'same' };
  if (bytes < currentBytes) return { bytes: null, problem: 'shrink' };
  if (bytes > DISK_MAX_BYTES) return { bytes: null, problem: 'max' };
  return { bytes, problem: null };
}

/** Bytes a compaction gave back to the host (0 when the copy was not smaller). */
export function freedBytes(result: { readonly bytesBefore: number; readonly bytesAfter: number }): number {
  return Math.max(0, result.bytesBefore - result.bytesAfter);
}
