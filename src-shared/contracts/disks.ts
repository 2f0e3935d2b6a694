// The `disks` control service: what a disk image file is (format, sizes, snapshots), bringing
// an existing VDI/VMDK/VHD/VHDX/raw/qcow2 disk into Maru as qcow2, and growing, compacting and
// converting disks, and new empty floppy images. Every front end calls these methods; long
// operations are jobs.
import * as z from 'zod';
import { CREATABLE_FLOPPY_SIZES, type CreatableFloppySize } from '../storage-layout';
import { hostPathArg } from './access';
import type { JobOptions } from './jobs';
import { job, method, type MethodSpec } from './method';

/** Disk image formats Maru reads and writes (`vhd` is what QEMU calls `vpc`). */
export const DISK_FORMATS = ['qcow2', 'raw', 'vdi', 'vmdk', 'vhd', 'vhdx'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** Format names as their makers write them (the same in every language). */
export const DISK_FORMAT_LABEL: Readonly<Record<DiskFormat, string>> = {
  qcow2: 'qcow2',
  raw: 'raw',
  vdi: 'VDI',
  vmdk: 'VMDK',
  vhd: 'VHD',
  vhdx: 'VHDX',
};

/** Largest disk Maru creates or grows (qcow2's own limit with 64 KiB clusters is higher). */
export const DISK_MAX_BYTES = 2 ** 51; // 2 PiB

/** What a disk image file holds, as qemu-img reads it. Never modified by reading it. */
export interface DiskImageInfo {
  readonly path: string;
  readonly format: DiskFormat;
  /**
   * VMDK: its create type (monolithicSparse, monolithicFlat, twoGbMaxExtentSparse,
   * twoGbMaxExtentFlat, streamOptimized, …); VHD: dynamic or fixed when known; else null.
   */
  readonly subformat: string | null;
  /** The size the guest sees. */
  readonly virtualSizeBytes: number;
  /** Bytes the image takes on the host disk (every part of a split VMDK). */
  readonly actualSizeBytes: number;
  /** As stored in the image (relative names are relative to its folder); null when it has none. */
  readonly backingFile: string | null;
  /** Names of the image's internal snapshots (qcow2). */
  readonly snapshots: readonly string[];
  /** The files the image is made of: the image itself, plus the extents of a VMDK descriptor. */
  readonly files: readonly string[];
  /**
   * Why importing or converting this file is refused (not a disk image, damaged or truncated,
   * an ISO, a missing part), or null when it can be imported.
   */
  readonly importProblem: string | null;
}

export interface DiskImportOptions {
  /** File name of the new disk, without folder (default: the source's name); `.qcow2` is added. */
  readonly name?: string | undefined;
  /**
   * The source's format when the name does not say it: a raw disk image whose name does not end
   * in .img/.raw/.bin is imported only when the caller says `raw`.
   */
  readonly sourceFormat?: DiskFormat | undefined;
  /** The new disk's format: qcow2 (the only one so far). */
  readonly format?: 'qcow2' | undefined;
}

export interface DiskImportResult {
  /** The new disk, under `$MARU_HOME/disks/`. */
  readonly path: string;
  readonly image: DiskImageInfo;
  readonly source: DiskImageInfo;
  readonly seconds: number;
  readonly warnings: readonly string[];
}

export interface DiskResizeResult {
  readonly vmId: string;
  readonly diskId: string;
  readonly path: string;
  readonly oldSizeBytes: number;
  readonly newSizeBytes: number;
  /** E.g. the new size is more than the host disk's free space (the disk is sparse: allowed). */
  readonly warnings: readonly string[];
}

export interface DiskCompactResult {
  readonly vmId: string;
  readonly diskId: string;
  readonly path: string;
  /** Bytes the image took on the host disk before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** False when the compacted copy would give back less than 1 MiB (or 1%): the original was kept as it was. */
  readonly replaced: boolean;
}

export interface DiskConvertResult {
  readonly path: string;
  readonly image: DiskImageInfo;
  readonly source: DiskImageInfo;
  readonly seconds: number;
  readonly warnings: readonly string[];
}

export interface DiskCreateResult {
  readonly path: string;
  readonly virtualSizeBytes: number;
  /** E.g. the size is more than the host disk's free space (the disk is sparse: allowed). */
  readonly warnings: readonly string[];
}

export interface DiskService {
  /** Reads a disk image's format, sizes, backing file and snapshots (read-only). */
  inspect(path: string): Promise<DiskImageInfo>;
  /**
   * Writes a new, empty (sparse) qcow2 disk at `targetPath`, which must not exist; attach it to
   * a VM with `library.attachStorage`. `.qcow2` is added to a name without an extension.
   */
  create(targetPath: string, sizeBytes: number): Promise<DiskCreateResult>;
  /**
   * Converts an existing disk image into a new qcow2 under `$MARU_HOME/disks/`, with progress;
   * the source is only read. Cancel removes the partial copy.
   */
  import(path: string, options: DiskImportOptions, job?: JobOptions): Promise<DiskImportResult>;
  /** Grows disk `diskIndex` (0-based) of a powered-off VM; shrinking is refused. */
  resize(vmRef: string, diskIndex: number, newSizeBytes: number, job?: JobOptions): Promise<DiskResizeResult>;
  /** Gives back the space of zeroed data of a powered-off VM's disk (refused with internal snapshots). */
  compact(vmRef: string, diskIndex: number, job?: JobOptions): Promise<DiskCompactResult>;
  /** Writes a copy of a disk image in another format to `targetPath` (which must not exist). */
  convert(path: string, targetFormat: DiskFormat, targetPath: string, job?: JobOptions): Promise<DiskConvertResult>;
  /**
   * Writes a new, empty floppy image formatted with FAT12 (1.44M, 720K or 2.88M) to `targetPath`
   * (which must not exist). Returns its absolute path and size.
   */
  createFloppy(targetPath: string, size: CreatableFloppySize): Promise<{ path: string; bytes: number }>;
}

const vmRef = z.string().min(1).max(256);
const diskIndex = z.number().int().min(0).max(255);
const format = z.enum(DISK_FORMATS);
/** A plain file name (no folder): letters, digits, space, dot, dash, underscore, plus. */
export const DISK_NAME_PATTERN = /^(?!\.)[\p{L}\p{N} ._+-]{1,200}$/u;

export const diskMethods = {
  inspect: method(z.tuple([hostPathArg('media')])),
  create: method(z.tuple([hostPathArg('output'), z.number().int().positive().max(DISK_MAX_BYTES)])),
  import: job(
    z.tuple([
      hostPathArg('media'),
      z
        .object({
          name: z.string().regex(DISK_NAME_PATTERN, 'a plain file name without folders').optional(),
          sourceFormat: format.optional(),
          format: z.literal('qcow2').optional(),
        })
        .strict(),
    ]),
  ),
  resize: job(z.tuple([vmRef, diskIndex, z.number().int().positive().max(DISK_MAX_BYTES)])),
  compact: job(z.tuple([vmRef, diskIndex])),
  convert: job(z.tuple([hostPathArg('media'), format, hostPathArg('output')])),
  createFloppy: method(z.tuple([hostPathArg('output'), z.enum(CREATABLE_FLOPPY_SIZES)])),
} satisfies Record<keyof DiskService, MethodSpec>;
