// The new-VM wizard's "use an existing disk": what the disk step needs before Next (a path that
// was inspected and can be used), and Create — a disk that is not qcow2 (or is an overlay) is
// imported first (`disks.import`, progress and Cancel), then the VM is made around the copy
// (`library.create` with `existingDisk`). A copy made for a create that then failed is reused.
import type { DiskImageInfo, DiskService } from '../../src-shared/contracts/disks';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import type { CreateResult, CreateVmArgs } from '../../src-shared/contracts/library';
import { importDiskForVm, needsImport } from '../../src-shared/disk-for-new-vm';

export type DiskChoice = 'new' | 'existing';

/** The disk step's "existing disk" field: the path typed or picked, and what `disks.inspect` said of it. */
export interface ExistingDiskState {
  readonly path: string;
  /** What inspect found for `path` (null: not inspected yet, or the path changed since). */
  readonly info: DiskImageInfo | null;
  /** Inspect's error (the file is missing, not a disk image, or out of the web console's reach). */
  readonly error: string | null;
  readonly inspecting: boolean;
}

export const NO_EXISTING_DISK: ExistingDiskState = { path: '', info: null, error: null, inspecting: false };

/** Why the disk step cannot go on yet, as a code the UI translates (`wizard.existingDisk.problem.<code>`). */
export type ExistingDiskProblem = 'path' | 'inspect' | 'refused';

export function existingDiskProblem(s: ExistingDiskState): ExistingDiskProblem | null {
  if (s.path.trim() === '') return 'path';
  if (s.info === null) return 'inspect';
  if (s.info.importProblem !== null) return 'refused';
  return null;
}

/** A qcow2 copy imported for this wizard's VM: kept when the create after it failed, and used again. */
export interface ImportedCopy {
  readonly source: string;
  readonly path: string;
}

export interface CreateAroundDiskDeps {
  readonly disks: Pick<DiskService, 'import'>;
  /** The store's createVm (refreshes the library and selects the new VM). */
  readonly createVm: (args: CreateVmArgs, job?: JobOptions) => Promise<CreateResult>;
}

/**
 * Creates the VM around the inspected disk `info`: used as it is when it is a standalone qcow2,
 * else imported first — or the `earlier` copy of the same source is used. `onCopy` hears of a
 * new copy before the create runs, so a failed create can say where it is (and Create again
 * uses it). One job: the import's phases (check, import), then the create's (config).
 */
export async function createAroundExistingDisk(
  deps: CreateAroundDiskDeps,
  settings: Omit<CreateVmArgs, 'diskGiB' | 'existingDisk'>,
  info: DiskImageInfo,
  earlier: ImportedCopy | null,
  job: JobOptions,
  onCopy: (copy: ImportedCopy) => void,
): Promise<CreateResult> {
  let disk = info.path;
  if (needsImport(info)) {
    if (earlier?.source === info.path) disk = earlier.path;
    else {
      const copy = await importDiskForVm(deps.disks, info.path, settings.name, job);
      onCopy({ source: info.path, path: copy.path });
      disk = copy.path;
    }
  }
  return deps.createVm({ ...settings, existingDisk: disk }, job);
}
