// The library control service: the contract every front end (CLI, Electron IPC, web
// console) calls. One interface, one runtime method table with zod argument schemas.
import * as z from 'zod';
import { PRESET_IDS } from '../os-presets';
import { DISK_BUSES, MAX_NICS, nicSchema, portForwardSchema, type VmConfig } from '../vm-config';
import { bindAddressArg, hostPathArg } from './access';
import type { JobOptions } from './jobs';
import { job, method, type MethodSpec } from './method';

export type VmPowerState = 'off' | 'running' | 'paused' | 'saved' | 'aborted';

export type VmListEntry =
  | {
      readonly kind: 'ok';
      readonly id: string;
      readonly name: string;
      readonly os: VmConfig['os'];
      readonly engine: VmConfig['engine'];
      readonly cpus: number;
      readonly memoryMiB: number;
      readonly firmware: VmConfig['firmware'];
      readonly state: VmPowerState;
      readonly folder: string;
    }
  | {
      readonly kind: 'inaccessible';
      /** The folder name (normally the uuid). */
      readonly id: string;
      readonly folder: string;
      readonly error: string;
    };

export interface DiskDetails {
  readonly id: string;
  readonly path: string;
  readonly bus: string;
  readonly virtualSizeBytes: number;
  /** Bytes the file really takes on the host disk (sparse allocation). */
  readonly allocatedBytes: number | null;
  readonly exists: boolean;
}

export interface VmDetails {
  readonly config: VmConfig;
  readonly folder: string;
  readonly state: VmPowerState;
  readonly disks: readonly DiskDetails[];
  /** Where the config came from an older schema, the version it was migrated from (in memory only). */
  readonly migratedFrom?: number;
}

export interface CreateResult {
  readonly vm: VmDetails;
  readonly warnings: readonly string[];
}

/** The settings `create` and `modify` both take, each optional. */
const vmSettingsArgsSchema = z.object({
  engine: z.enum(['auto', 'qemu', 'v86']).optional(),
  cpus: z.number().int().optional(),
  memoryMiB: z.number().int().optional(),
  firmware: z.enum(['bios', 'uefi']).optional(),
  secureBoot: z.boolean().optional(),
  tpm: z.boolean().optional(),
  iso: hostPathArg('media').nullable().optional(),
  description: z.string().optional(),
});

/**
 * A new VM: a name, the preset it starts from, its disk (a new one of `diskGiB`, or an existing
 * qcow2 image, `existingDisk`), and any setting changed from the preset's.
 */
export const createVmArgsSchema = vmSettingsArgsSchema.extend({
  name: z.string(),
  os: z.enum(PRESET_IDS).default('other'),
  /** A new, empty first disk of this size (default: the preset's; 0: no disk). Not with `existingDisk`. */
  diskGiB: z.number().nonnegative().optional(),
  /**
   * An existing standalone qcow2 image as the first disk, instead of a new one: one under
   * `$MARU_HOME/disks/` (where `disks.import` writes) moves into the VM's folder, one elsewhere is
   * used where it is. The VM boots from it first. Anything else is refused before the VM is made.
   */
  existingDisk: hostPathArg('media').optional(),
  /** The first disk's bus (default: the preset's; v86: IDE). */
  diskBus: z.enum(DISK_BUSES).optional(),
});
export type CreateVmArgs = z.input<typeof createVmArgsSchema>;

/** A port forward as a front end sends it: its host address passes the caller policy (web console: loopback). */
export const portForwardArgSchema = portForwardSchema.extend({ hostAddress: bindAddressArg().default('127.0.0.1') });
export type PortForwardArgs = z.input<typeof portForwardArgSchema>;

/** A network adapter as a front end sends it (the library checks the set as a whole). */
export const nicArgSchema = z.object({ ...nicSchema.shape, portForwards: z.array(portForwardArgSchema).max(256) });
export type NicArgs = z.input<typeof nicArgSchema>;

/** Changes to a powered-off VM: the shared settings, plus a new name, boot order and network adapters. */
export const modifyVmArgsSchema = vmSettingsArgsSchema.extend({
  name: z.string().optional(),
  bootOrder: z
    .array(z.enum(['cdrom', 'disk', 'floppy', 'network']))
    .min(1)
    .optional(),
  /** Every network adapter, in order (the whole list replaces the VM's; at most MAX_NICS, checked with a clear message). */
  nics: z
    .array(nicArgSchema)
    .max(MAX_NICS * 4)
    .optional(),
});
export type ModifyVmArgs = z.input<typeof modifyVmArgsSchema>;

/** A drive of a VM as `maru storage VM list` shows it. */
export interface StorageDrive {
  readonly id: string;
  /** VirtualBox's names: hard disk, optical drive, floppy drive. */
  readonly type: 'hdd' | 'dvd' | 'fdd';
  /** The controller: `ide`, `ahci` (SATA), `virtio`, `virtio-scsi`, `nvme`; `fdc` for floppy drives. */
  readonly bus: VmConfig['disks'][number]['bus'] | 'fdc';
  /** Where QEMU attaches it ("IDE secondary master", "SATA port 2", "floppy A:" …). */
  readonly slot: string;
  /** The image (absolute path); null for an empty CD/DVD or floppy drive. */
  readonly medium: string | null;
  /** Hard disks: virtual size in bytes. */
  readonly sizeBytes?: number;
  /** False when the image is missing from the host. */
  readonly exists: boolean;
}

/** A VM's drives and what each engine can make of them. */
export interface VmStorage {
  readonly vmId: string;
  readonly name: string;
  readonly drives: readonly StorageDrive[];
  /** Why QEMU cannot build these drives (empty when it can). */
  readonly qemuProblems: readonly string[];
  /** Why the v86 engine cannot run these drives (empty when it can). */
  readonly v86Problems: readonly string[];
  readonly notes: readonly string[];
}

/**
 * A drive to add to a powered-off VM (VBoxManage storageattach): a hard disk (`hdd`) — an
 * existing qcow2 image (`medium`) or a new one (`createBytes`) — or a CD/DVD (`dvd`) or floppy
 * (`fdd`) drive, empty (`medium: null`) or holding an image.
 */
export const attachStorageArgsSchema = z.object({
  type: z.enum(['hdd', 'dvd', 'fdd']),
  /** hdd: any disk bus; dvd: ide or ahci; fdd: none (the floppy controller). Default: like the VM's drives of that kind. */
  bus: z.enum(DISK_BUSES).optional(),
  medium: hostPathArg('media').nullable().optional(),
  /** hdd: create a new, empty qcow2 disk of this size (bytes) in the VM's folder. */
  createBytes: z.number().int().positive().optional(),
});
export type AttachStorageArgs = z.input<typeof attachStorageArgsSchema>;

export interface AttachStorageResult {
  readonly vm: VmDetails;
  readonly drive: StorageDrive;
  readonly warnings: readonly string[];
}

export interface LibraryService {
  list(): Promise<VmListEntry[]>;
  /** `ref` is a VM name or uuid. */
  show(ref: string): Promise<VmDetails>;
  create(args: CreateVmArgs, job?: JobOptions): Promise<CreateResult>;
  modify(ref: string, patch: ModifyVmArgs): Promise<{ vm: VmDetails; warnings: readonly string[] }>;
  rename(ref: string, newName: string): Promise<VmDetails>;
  delete(ref: string, options: { deleteDisks: boolean }): Promise<void>;
  clone(ref: string, newName: string, job?: JobOptions): Promise<VmDetails>;
  /**
   * A linked clone of a powered-off VM's current state, in about a second whatever the disk
   * size: the source's disks are frozen as bases both VMs' new overlays read from.
   */
  linkedClone(ref: string, newName: string, job?: JobOptions): Promise<VmDetails>;
  /** The VM's disks, CD/DVD and floppy drives, where each sits, and what an engine cannot run. */
  storage(ref: string): Promise<VmStorage>;
  /** Adds a drive to a powered-off VM (refused while it runs or has a saved state). */
  attachStorage(ref: string, args: AttachStorageArgs): Promise<AttachStorageResult>;
  /** Removes drive `driveId` from a powered-off VM; a disk's image file is kept (and said where). */
  detachStorage(ref: string, driveId: string): Promise<{ vm: VmDetails; keptFile: string | null }>;
}

const vmRef = z.string().min(1).max(256);

/** Runtime table: argument schemas per method, for IPC / WebSocket validation. */
export const libraryMethods = {
  list: method(z.tuple([])),
  show: method(z.tuple([vmRef])),
  create: job(z.tuple([createVmArgsSchema])),
  modify: method(z.tuple([vmRef, modifyVmArgsSchema])),
  rename: method(z.tuple([vmRef, z.string()])),
  delete: method(z.tuple([vmRef, z.object({ deleteDisks: z.boolean() })])),
  clone: job(z.tuple([vmRef, z.string()])),
  linkedClone: job(z.tuple([vmRef, z.string()])),
  storage: method(z.tuple([vmRef])),
  attachStorage: method(z.tuple([vmRef, attachStorageArgsSchema])),
  detachStorage: method(z.tuple([vmRef, z.string().min(1).max(64)])),
} satisfies Record<keyof LibraryService, MethodSpec>;
