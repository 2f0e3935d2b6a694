// The `backup` control service: one VM as one archive file (`.maru`, a plain tar with a
// manifest and SHA-256 checksums) and back — export, import (verified before anything is
// registered) and restore over an existing VM. Design and format: docs/backup.md.
import * as z from 'zod';
import { hostPathArg } from './access';
import type { JobOptions } from './jobs';
import { job, type MethodSpec } from './method';

/** The file name extension of a Maru VM archive. */
export const VM_ARCHIVE_EXTENSION = '.maru';

export interface BackupExportResult {
  /** The archive written. */
  readonly path: string;
  readonly vmId: string;
  readonly vmName: string;
  /** Bytes of the archive. */
  readonly bytes: number;
  /** Files inside (vm.json, disks, NVRAM, TPM state, snapshots…). */
  readonly files: number;
  readonly seconds: number;
  /**
   * The live snapshot taken first when the VM was running or paused (the archive holds it:
   * restoring it brings the running state back); null when the VM was off or saved.
   */
  readonly liveSnapshot: { readonly id: string; readonly name: string } | null;
  /** E.g. media left out (ISOs), linked-clone bases carried along. */
  readonly warnings: readonly string[];
}

export interface BackupImportOptions {
  /** The imported VM's name (default: the name in the archive, numbered when taken). */
  readonly name?: string | undefined;
  /**
   * Restore over this VM (uuid or name; it must not be running, and may be inaccessible): the
   * archive is verified first, then the VM's folder is swapped for the archive's content. The VM
   * keeps its uuid (and its name unless `name` is given).
   */
  readonly replace?: string | undefined;
}

export interface BackupImportResult {
  readonly vmId: string;
  readonly name: string;
  /** The uuid in the archive; differs from vmId when that uuid was taken (or on replace). */
  readonly archiveVmId: string;
  /** The Maru version that wrote the archive. */
  readonly madeBy: string;
  readonly bytes: number;
  readonly files: number;
  readonly seconds: number;
  /** The VM that was replaced (its id), or null. */
  readonly replaced: string | null;
  readonly warnings: readonly string[];
}

export interface BackupService {
  /**
   * Writes VM `vmRef` to `targetPath` (which must not exist) as one archive, streamed, with
   * progress (phase 'export', fraction of bytes) and cancel (the partial file is removed). A
   * running VM gets a live snapshot first and is paused while its files are read.
   */
  export(vmRef: string, targetPath: string, job?: JobOptions): Promise<BackupExportResult>;
  /**
   * Reads an archive, checks every file's size and SHA-256 while extracting into a staging
   * folder, and only then registers the VM (a new uuid when its uuid is taken) — or swaps it in
   * for `options.replace`. Refuses archives from a newer Maru, damaged, truncated or altered
   * ones, and leaves nothing behind when it does.
   */
  import(archivePath: string, options: BackupImportOptions, job?: JobOptions): Promise<BackupImportResult>;
}

const vmRef = z.string().min(1).max(256);

export const backupMethods = {
  export: job(z.tuple([vmRef, hostPathArg('output')])),
  import: job(
    z.tuple([
      hostPathArg('media'),
      z.object({ name: z.string().min(1).max(256).optional(), replace: vmRef.optional() }).strict(),
    ]),
  ),
} satisfies Record<keyof BackupService, MethodSpec>;
