// The library control service: the contract every front end (CLI, Electron IPC, web
// console) calls. One interface, one runtime method table with zod argument schemas.
import * as z from 'zod';
import { PRESET_IDS } from '../os-presets';
import { portForwardSchema, type VmConfig } from '../vm-config';

/** Progress of a long job, 0..1, with a phase label. */
export interface JobProgress {
  readonly phase: string;
  readonly fraction: number;
}

/** The part of AbortSignal a job reads (src-shared has neither DOM nor Node types). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface JobOptions {
  readonly onProgress?: (p: JobProgress) => void;
  readonly signal?: AbortSignalLike;
}

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

export const createVmArgsSchema = z.object({
  name: z.string(),
  os: z.enum(PRESET_IDS).default('other'),
  engine: z.enum(['auto', 'qemu', 'v86']).optional(),
  cpus: z.number().int().optional(),
  memoryMiB: z.number().int().optional(),
  diskGiB: z.number().nonnegative().optional(),
  firmware: z.enum(['bios', 'uefi']).optional(),
  secureBoot: z.boolean().optional(),
  tpm: z.boolean().optional(),
  iso: z.string().nullable().optional(),
  description: z.string().optional(),
});
export type CreateVmArgs = z.input<typeof createVmArgsSchema>;

export const modifyVmArgsSchema = z.object({
  name: z.string().optional(),
  engine: z.enum(['auto', 'qemu', 'v86']).optional(),
  cpus: z.number().int().optional(),
  memoryMiB: z.number().int().optional(),
  firmware: z.enum(['bios', 'uefi']).optional(),
  secureBoot: z.boolean().optional(),
  tpm: z.boolean().optional(),
  iso: z.string().nullable().optional(),
  description: z.string().optional(),
  bootOrder: z
    .array(z.enum(['cdrom', 'disk', 'floppy', 'network']))
    .min(1)
    .optional(),
  portForwards: z.array(portForwardSchema).optional(),
});
export type ModifyVmArgs = z.input<typeof modifyVmArgsSchema>;

export interface LibraryService {
  list(): Promise<VmListEntry[]>;
  /** `ref` is a VM name or uuid. */
  show(ref: string): Promise<VmDetails>;
  create(args: CreateVmArgs, job?: JobOptions): Promise<CreateResult>;
  modify(ref: string, patch: ModifyVmArgs): Promise<{ vm: VmDetails; warnings: readonly string[] }>;
  rename(ref: string, newName: string): Promise<VmDetails>;
  delete(ref: string, options: { deleteDisks: boolean }): Promise<void>;
  clone(ref: string, newName: string, job?: JobOptions): Promise<VmDetails>;
}

const vmRef = z.string().min(1).max(256);

/** Runtime table: argument schemas per method, for IPC / WebSocket validation. */
export const libraryMethods = {
  list: z.tuple([]),
  show: z.tuple([vmRef]),
  create: z.tuple([createVmArgsSchema]),
  modify: z.tuple([vmRef, modifyVmArgsSchema]),
  rename: z.tuple([vmRef, z.string()]),
  delete: z.tuple([vmRef, z.object({ deleteDisks: z.boolean() })]),
  clone: z.tuple([vmRef, z.string()]),
} satisfies Record<keyof LibraryService, z.ZodType>;
