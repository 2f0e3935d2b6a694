// A disk image brought in for a new VM (the wizard's "use an existing disk", `maru create
// --import-disk`): what needs importing first, and the import itself — a qcow2 copy under
// `$MARU_HOME/disks/` named after the VM (-2, -3 … when a disk has that name already).
import type { DiskImageInfo, DiskImportResult, DiskService } from './contracts/disks';
import type { JobOptions } from './contracts/jobs';
import { AppError } from './errors';

/**
 * True when a VM cannot use the image as it is and it must be imported (converted) first: any
 * format but qcow2, and a qcow2 overlay (the copy is standalone).
 */
export function needsImport(info: Pick<DiskImageInfo, 'format' | 'backingFile'>): boolean {
  return info.format !== 'qcow2' || info.backingFile !== null;
}

/** A disk file name (`DISK_NAME_PATTERN`) from a VM's name: other characters become "-". */
export function diskNameFor(vmName: string): string {
  const name = vmName
    .normalize('NFC')
    .replace(/[^\p{L}\p{N} ._+-]/gu, '-')
    .trim()
    .replace(/^\.+/, '')
    .slice(0, 180);
  return name === '' ? 'disk' : name;
}

/** At most this many names are tried (`NAME`, `NAME-2` … `NAME-9`). */
const NAME_TRIES = 9;

/**
 * Imports `source` as a new qcow2 disk for VM `vmName` (a job: progress, cancel). A name already
 * taken in the disks folder moves on to the next one; any other failure is the import's own.
 */
export async function importDiskForVm(
  disks: Pick<DiskService, 'import'>,
  source: string,
  vmName: string,
  job?: JobOptions,
): Promise<DiskImportResult> {
  const base = diskNameFor(vmName);
  for (let n = 1; ; n++) {
    try {
      return await disks.import(source, { name: n === 1 ? base : `${base}-${n}` }, job);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'ALREADY_EXISTS') || n >= NAME_TRIES) throw err;
    }
  }
}
