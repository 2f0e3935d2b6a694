// The media control service: what an install ISO is (detected from its own bytes), the
// server-side ISO picker (folders the operator allowed), and the media manager (every disk, ISO
// and floppy image, who uses it, release and remove). Uploads are an HTTP route, not a call.
import * as z from 'zod';
import { hostPathArg } from './access';
import { method, type MethodSpec } from './method';
import type { PresetId } from '../os-presets';
import type { VmPowerState } from './library';

/** Why the detector chose what it chose; `code` is stable (the UI translates it), `text` is English. */
export interface IsoReason {
  readonly code: IsoReasonCode;
  readonly text: string;
  /** Values the translated message interpolates (e.g. `{ file: 'sources/install.wim' }`). */
  readonly params: Readonly<Record<string, string>>;
}

export type IsoReasonCode =
  | 'windows-image-info'
  | 'windows-build-branch'
  | 'windows-label'
  | 'windows-installer'
  | 'windows-xp'
  | 'windows-9x'
  | 'dos'
  | 'linux-disk-info'
  | 'linux-layout'
  | 'arch'
  | 'boot-bios'
  | 'boot-uefi'
  | 'no-boot'
  | 'unknown';

export interface IsoDetection {
  readonly path: string;
  readonly sizeBytes: number;
  /** The label a person would recognise: UDF logical volume id, else Joliet, else ISO 9660. */
  readonly label: string | null;
  readonly labels: {
    readonly iso9660: string | null;
    readonly joliet: string | null;
    readonly udf: string | null;
  };
  /** File systems found on the medium. */
  readonly filesystems: readonly ('iso9660' | 'rock-ridge' | 'joliet' | 'udf')[];
  readonly preset: PresetId;
  readonly confidence: 'high' | 'medium' | 'low';
  /** A product name when the medium says it (e.g. "Windows 11 Pro", "Debian GNU/Linux 12.4.0"). */
  readonly osName: string | null;
  readonly reasons: readonly IsoReason[];
  /** El Torito boot entries: BIOS (platform 0x00) and UEFI (platform 0xEF). */
  readonly boot: { readonly bios: boolean; readonly uefi: boolean };
}

export interface IsoFolderEntry {
  readonly name: string;
  readonly path: string;
  readonly kind: 'folder' | 'iso';
  /** Bytes (files only). */
  readonly sizeBytes: number | null;
}

export interface IsoFolderListing {
  /** Folders the server lets a web console user pick from (`$MARU_HOME/isos` + MARU_ISO_FOLDERS). */
  readonly roots: readonly string[];
  /** The folder listed (one of the roots or inside one), or null when only the roots are shown. */
  readonly folder: string | null;
  /** The folder one level up, when still inside a root. */
  readonly parent: string | null;
  readonly entries: readonly IsoFolderEntry[];
}

/** VirtualBox's three kinds of medium: hard disk, optical disc, floppy. */
export type MediumType = 'hdd' | 'dvd' | 'fdd';

/**
 * Where a medium lies: a VM's own folder, `$MARU_HOME/disks` (imported, not yet attached),
 * `$MARU_HOME/orphaned-disks` (kept when its VM was deleted), `$MARU_HOME/isos` (uploads), or
 * anywhere else on the host (the user's own files, referenced by a VM).
 */
export type MediumLocation = 'vm' | 'imported' | 'orphaned' | 'isos' | 'outside';

/** One user of a medium: a VM's drive now, or the VM as one of its snapshots keeps it. */
export interface MediumUse {
  readonly vmId: string;
  readonly vmName: string;
  readonly vmState: VmPowerState;
  /** The drive that holds it (in the VM's current settings, or in the snapshot's). */
  readonly driveId: string;
  /** Null: the VM's current settings; else the snapshot whose settings hold it. */
  readonly snapshot: { readonly id: string; readonly name: string } | null;
  /** A base read through an overlay (a linked clone's frozen disk): that overlay; else null. */
  readonly via: string | null;
}

export interface MediumEntry {
  readonly path: string;
  readonly type: MediumType;
  /** qcow2, raw, vmdk, vdi, vhd, vhdx, iso, img (a floppy image); null when unknown. */
  readonly format: string | null;
  /** What the guest sees (null when the file is missing or cannot be read). */
  readonly virtualSizeBytes: number | null;
  /** Bytes it takes on the host disk. */
  readonly actualSizeBytes: number | null;
  readonly exists: boolean;
  readonly location: MediumLocation;
  /** A qcow2 overlay's base (absolute), else null. */
  readonly backingFile: string | null;
  readonly usedBy: readonly MediumUse[];
  /** In Maru's folders and used by no VM and no snapshot: it may be removed. */
  readonly orphan: boolean;
  /** Why the entry needs attention (missing, unreadable), or null. */
  readonly problem: string | null;
}

/** Every disk, ISO and floppy image Maru knows, and what could not be read. */
export interface MediaInventory {
  readonly media: readonly MediumEntry[];
  /** Files Maru could not read while looking (a damaged vm.json or snapshots.json), in words. */
  readonly problems: readonly string[];
}

export interface MediumReleaseResult {
  /** The drives it was taken out of. */
  readonly released: readonly { readonly vmId: string; readonly vmName: string; readonly driveId: string }[];
  /** What the user should know (e.g. snapshots that still hold it). */
  readonly notes: readonly string[];
}

export interface MediaService {
  /** Reads an ISO's volume descriptors and well-known files; never modifies it. */
  detectIso(path: string): Promise<IsoDetection>;
  /** Lists ISO files and sub-folders of an allowed folder (null: the allowed roots themselves). */
  listIsoFolder(folder: string | null): Promise<IsoFolderListing>;
  /** The media manager's list: every medium in Maru's folders or in a VM's settings or snapshots. */
  list(): Promise<MediaInventory>;
  /**
   * Takes a medium out of every VM's current settings (VirtualBox "Release"): a disk is detached
   * from VMs that are off; an ISO or floppy is ejected (at once from a running VM). Snapshots
   * keep what they hold. The file is not touched.
   */
  release(path: string): Promise<MediumReleaseResult>;
  /** Deletes a medium's file: only one in Maru's folders that nothing (no VM, no snapshot, no overlay) uses. */
  remove(path: string): Promise<{ readonly removed: string }>;
}

/** A medium the inventory listed: any path string (it is looked up in the list, never opened first). */
const listedPath = z.string().min(1).max(4096);

export const mediaMethods = {
  detectIso: method(z.tuple([hostPathArg('media')])),
  listIsoFolder: method(z.tuple([hostPathArg('folder').nullable()])),
  list: method(z.tuple([])),
  release: method(z.tuple([listedPath])),
  remove: method(z.tuple([listedPath])),
} satisfies Record<keyof MediaService, MethodSpec>;
