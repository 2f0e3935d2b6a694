// Backup slice: exporting a VM to one archive file and importing one (as a new VM, or restored
// over an existing — possibly broken — VM); a `.ova` path (import: or `.ovf`) is an appliance (`services.appliances`).
// Both are jobs of `services.backup`; the dialogs
// hold their progress and Cancel, and the library is read again (and the VM selected) after.
import type { StateCreator } from 'zustand';
import type { BackupExportResult, BackupImportResult } from '../../src-shared/contracts/backup';
import { VM_ARCHIVE_EXTENSION } from '../../src-shared/contracts/backup';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import { AppError } from '../../src-shared/errors';
import type { AppState } from './app-store';

export interface VmImportRequest {
  readonly path: string;
  /** Empty: the name in the archive (numbered when taken; the replaced VM's when restoring over one). */
  readonly name?: string;
  /** Restore over this VM (its uuid). */
  readonly replaceId?: string | null;
}

/** What the dialogs show of an export: the same for a Maru archive and an appliance. */
export type VmExportOutcome = Pick<BackupExportResult, 'path' | 'bytes' | 'seconds' | 'warnings'>;
/** What the dialogs show of an import. */
export type VmImportOutcome = Pick<BackupImportResult, 'vmId' | 'name' | 'replaced' | 'warnings'>;

/** An appliance file (VirtualBox's OVA) goes to the `appliances` service instead of `backup`. */
export function isAppliancePath(p: string): boolean {
  return /\.ova$/i.test(p.trim());
}

/** What imports as an appliance: an OVA, or a loose OVF descriptor with its files beside it (VMware, VirtualBox). */
export function isApplianceImportPath(p: string): boolean {
  return /\.(ova|ovf)$/i.test(p.trim());
}

export interface BackupSlice {
  /** Writes VM `vmId` to `path` (a job; the file must not exist); `.ova`: an appliance. Throws what the server said. */
  exportVm(vmId: string, path: string, job?: JobOptions): Promise<VmExportOutcome>;
  /** Imports an archive or an appliance (a job), reads the library again and selects the VM; throws what the server said. */
  importVm(request: VmImportRequest, job?: JobOptions): Promise<VmImportOutcome>;
}

/**
 * Where an export goes unless the user says otherwise: `$MARU_HOME/backups/NAME.maru`, found
 * from the VM's folder (`$MARU_HOME/vms/<uuid>`) — the one place the web console may write to.
 */
export function defaultArchivePath(vmFolder: string, vmName: string): string {
  const sep = vmFolder.includes('/') ? '/' : '\\';
  const home = vmFolder.replace(/[\\/]+[^\\/]+[\\/]+[^\\/]+[\\/]*$/, '');
  // VM names hold no path separators; characters Windows refuses in file names become "_".
  const file = vmName.replace(/[<>:"|?*\\/]/g, '_');
  return `${home}${sep}backups${sep}${file}${VM_ARCHIVE_EXTENSION}`;
}

export const createBackupSlice: StateCreator<AppState, [], [], BackupSlice> = (_set, get) => {
  function servicesOrThrow() {
    const s = get().services;
    if (!s) throw new Error('The store has no control services yet (init was not called).');
    return s;
  }

  return {
    async exportVm(vmId, path, job) {
      if (/\.ovf$/i.test(path.trim())) {
        // As `maru export` says: a loose .ovf would import as an appliance, not as this archive.
        throw new AppError('INVALID_ARGUMENT', 'Maru writes appliances as one .ova file; name it NAME.ova.');
      }
      if (isAppliancePath(path)) {
        const started = Date.now();
        const r = await servicesOrThrow().appliances.export(vmId, path.trim(), job);
        return { path: r.path, bytes: r.bytes, seconds: (Date.now() - started) / 1000, warnings: [] };
      }
      const result = await servicesOrThrow().backup.export(vmId, path, job);
      // A running VM got a live snapshot: its tree (if open) and state are read again.
      await get().refresh();
      return result;
    },
    async importVm(request, job) {
      const name = request.name?.trim();
      if (isApplianceImportPath(request.path) && !request.replaceId) {
        const r = await servicesOrThrow().appliances.import(request.path.trim(), name ? { name } : {}, job);
        await get().refresh();
        await get().select(r.vmId);
        return { vmId: r.vmId, name: r.name, replaced: null, warnings: r.warnings };
      }
      const result = await servicesOrThrow().backup.import(
        request.path.trim(),
        { ...(name ? { name } : {}), ...(request.replaceId ? { replace: request.replaceId } : {}) },
        job,
      );
      await get().refresh();
      await get().select(result.vmId);
      return result;
    },
  };
};
