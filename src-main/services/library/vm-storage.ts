// A VM's storage settings as the library changes them: the drive list `maru storage VM list`
// shows (slots from the shared layout), new drive ids, the bus a new drive gets, and the checks
// a config with more or other drives must pass (QEMU's slots, v86's limits) before it is written.
import { existsSync } from 'node:fs';
import { mkdir, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createQcow2, readQcow2Info, QCOW2_MAX_VIRTUAL_SIZE } from '../../../src-emulator/disk/qcow2-create';
import { fsyncFolder } from '../../../src-node/atomic-file';
import { statUserFile } from '../../../src-node/file-presence';
import { freeSpaceAt, sparseDiskWarning } from '../disks/free-space';
import type { StorageDrive, VmStorage } from '../../../src-shared/contracts/library';
import { v86Problems } from '../../../src-shared/engine-choice';
import { AppError } from '../../../src-shared/errors';
import { OS_PRESETS } from '../../../src-shared/os-presets';
import { planQemuStorage, v86StorageProblems, type QemuSlot } from '../../../src-shared/storage-layout';
import type { DiskConfig, VmConfig } from '../../../src-shared/vm-config';

/** The first free id `<prefix><n>` among every drive of `config`. */
export function nextDriveId(config: VmConfig, prefix: 'disk' | 'cd' | 'fd'): string {
  const taken = new Set([...config.disks, ...config.cdroms, ...config.floppies].map((d) => d.id));
  for (let n = 0; ; n++) if (!taken.has(`${prefix}${n}`)) return `${prefix}${n}`;
}

/** The bus a new hard disk gets when none is asked for: like the VM's first disk, else the preset's (v86: IDE). */
export function defaultDiskBus(config: VmConfig): DiskConfig['bus'] {
  return config.disks[0]?.bus ?? (config.engine === 'v86' ? 'ide' : OS_PRESETS[config.os].diskBus);
}

/** The bus a new CD/DVD drive gets: like the VM's first one, else the machine's own (q35: SATA; pc: IDE). */
export function defaultCdromBus(config: VmConfig): 'ide' | 'ahci' {
  return config.cdroms[0]?.bus ?? (config.chipset === 'q35' && config.engine !== 'v86' ? 'ahci' : 'ide');
}

function slotText(slot: QemuSlot): string {
  switch (slot.kind) {
    case 'ide':
      return `IDE ${slot.channel === 0 ? 'primary' : 'secondary'} ${slot.unit === 0 ? 'master' : 'slave'}`;
    case 'sata':
      return `SATA port ${slot.port}`;
    case 'virtio-blk':
      return 'virtio-blk';
    case 'virtio-scsi':
      return 'virtio-scsi controller';
    case 'nvme':
      return 'own NVMe controller';
  }
}

/** The drives of `config` (paths absolute), where QEMU attaches each, and what QEMU and v86 cannot do. */
export function describeStorage(
  config: VmConfig,
  folder: string,
  disks: readonly { id: string; virtualSizeBytes: number; exists: boolean }[],
  mediaExist: (file: string) => boolean,
): VmStorage {
  const plan = planQemuStorage(config);
  const diskSlot = new Map(plan.disks.map((d) => [d.disk.id, slotText(d.slot)]));
  const cdSlot = new Map(plan.cdroms.map((c) => [c.cdrom.id, slotText(c.slot)]));
  const drives: StorageDrive[] = [];
  for (const d of config.disks) {
    const details = disks.find((x) => x.id === d.id);
    drives.push({
      id: d.id,
      type: 'hdd',
      bus: d.bus,
      slot: diskSlot.get(d.id) ?? 'not attached (see the problems)',
      medium: path.isAbsolute(d.file) ? d.file : path.join(folder, d.file),
      sizeBytes: details?.virtualSizeBytes ?? d.sizeBytes,
      exists: details?.exists ?? true,
    });
  }
  for (const c of config.cdroms) {
    drives.push({
      id: c.id,
      type: 'dvd',
      bus: c.bus,
      slot: cdSlot.get(c.id) ?? 'not attached (see the problems)',
      medium: c.iso,
      exists: c.iso === null || mediaExist(c.iso),
    });
  }
  config.floppies.forEach((f, unit) => {
    drives.push({
      id: f.id,
      type: 'fdd',
      bus: 'fdc',
      slot: `floppy ${unit === 0 ? 'A:' : 'B:'}`,
      medium: f.image,
      exists: f.image === null || mediaExist(f.image),
    });
  });
  return {
    vmId: config.id,
    name: config.name,
    drives,
    qemuProblems: plan.problems,
    v86Problems: v86StorageProblems(config),
    notes: plan.notes,
  };
}

/**
 * Refuses a config whose drives the engines cannot attach: QEMU's slots always (it runs `qemu`
 * and `auto` VMs), v86's limits when the VM is set to v86. Returns warnings: an `auto` VM whose
 * preset prefers v86 will now run on QEMU.
 */
export function checkStorage(config: VmConfig): string[] {
  const label = JSON.stringify(config.name);
  const plan = planQemuStorage(config);
  if (plan.problems.length > 0) {
    throw new AppError('INVALID_ARGUMENT', `VM ${label} cannot have these drives: ${plan.problems.join('; ')}.`);
  }
  const v86 = v86StorageProblems(config);
  if (config.engine === 'v86' && v86.length > 0) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `VM ${label} is set to the v86 engine, which cannot attach these drives: ${v86.join('; ')}. Use IDE drives ` +
        `(at most 2 disks and one CD/DVD drive), or run the VM with QEMU ("maru modify ${config.name} --engine qemu").`,
    );
  }
  const warnings: string[] = [];
  const preset = OS_PRESETS[config.os];
  if (
    config.engine === 'auto' &&
    preset.engine === 'v86' &&
    v86.length > 0 &&
    v86Problems(config).length === v86.length
  ) {
    warnings.push(
      `${preset.label} VMs run on the v86 engine when they can, but v86 cannot attach these drives (${v86.join('; ')}): ` +
        'this VM will run on QEMU.',
    );
  }
  return warnings;
}

/** A hard disk about to be attached: its config entry, and the file work done when the config is written. */
export interface PreparedDisk {
  readonly disk: DiskConfig;
  readonly warnings: readonly string[];
  /** Creates the new image, or moves an imported one into the VM's folder. */
  commit(): Promise<void>;
  /** Undoes `commit` (the config could not be written); throws when a moved disk cannot be put back. */
  rollback(): Promise<void>;
}

/** An existing qcow2 image to give a VM (attached to one, or the first disk of a new one). */
export interface ExistingDiskInput {
  readonly home: string;
  /** The VM's folder (a new VM's staging folder, which need not exist yet). */
  readonly folder: string;
  /** Where the VM's folder will be once it exists, when `folder` is a staging folder (messages name it). */
  readonly finalFolder?: string;
  readonly config: VmConfig;
  readonly bus: DiskConfig['bus'] | undefined;
  readonly medium: string;
  /** What the user does with the disk: says what to do with an imported copy when the image is not qcow2. */
  readonly purpose: 'attach' | 'create';
  /** Every other VM's config, to refuse a disk another VM uses. */
  readonly otherVms: () => Promise<readonly { config: VmConfig; folder: string; state: string }[]>;
}

export interface DiskAttachInput extends Omit<ExistingDiskInput, 'medium' | 'purpose'> {
  readonly medium: string | null | undefined;
  readonly createBytes: number | undefined;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

const SECTOR = 512;

/**
 * Works out a hard disk to attach: a new qcow2 in the VM's `disks/` folder, or an existing
 * qcow2 image (`prepareExistingDisk`). Nothing is written until `commit`.
 */
export async function prepareDiskAttach(input: DiskAttachInput): Promise<PreparedDisk> {
  const { config, folder } = input;
  const id = nextDriveId(config, 'disk');
  const bus = input.bus ?? defaultDiskBus(config);
  if (input.createBytes !== undefined && input.medium) {
    throw new AppError(
      'INVALID_ARGUMENT',
      'Choose one: an existing disk image (--medium PATH) or a new one (--create SIZE).',
    );
  }
  if (input.createBytes !== undefined) {
    const sizeBytes = Math.ceil(input.createBytes / SECTOR) * SECTOR;
    if (sizeBytes > QCOW2_MAX_VIRTUAL_SIZE) {
      throw new AppError('INVALID_ARGUMENT', `A disk of ${sizeBytes} bytes is larger than qcow2 allows (2 PiB).`);
    }
    let file = `disks/${id}.qcow2`;
    for (let n = 2; existsSync(path.join(folder, file)); n++) file = `disks/${id}-${n}.qcow2`;
    const abs = path.join(folder, file);
    const tooBig = sparseDiskWarning(sizeBytes, await freeSpaceAt(folder));
    return {
      disk: { id, file, bus, sizeBytes },
      warnings: tooBig ? [tooBig] : [],
      commit: async () => {
        await mkdir(path.dirname(abs), { recursive: true });
        await createQcow2(abs, sizeBytes);
      },
      rollback: () => rm(abs, { force: true }),
    };
  }
  if (!input.medium) {
    throw new AppError(
      'INVALID_ARGUMENT',
      'A hard disk needs an image: an existing qcow2 disk (--medium PATH) or a new one (--create SIZE).',
    );
  }
  return prepareExistingDisk({ ...input, medium: input.medium, purpose: 'attach' });
}

/**
 * Works out an existing qcow2 image a VM is to use — attached to a VM (`maru storage attach`)
 * or the first disk of a new one (`maru create --disk FILE`): one imported into
 * `$MARU_HOME/disks/` moves into the VM's folder (a VM only uses its own disks there), one
 * elsewhere on the host is used where it is. Refuses a missing file, what is not qcow2 (import
 * it first), an overlay, a disk this or another VM already uses, and a disk in another VM's
 * folder. Nothing is written until `commit`; `rollback` puts a moved disk back.
 */
export async function prepareExistingDisk(input: ExistingDiskInput): Promise<PreparedDisk> {
  const { config, folder, home } = input;
  const label = JSON.stringify(config.name);
  const id = nextDriveId(config, 'disk');
  const bus = input.bus ?? defaultDiskBus(config);
  const shownFolder = input.finalFolder ?? folder;
  const { abs: given } = await statUserFile(input.medium, 'The disk image', ', so not a disk image');
  let info;
  try {
    info = await readQcow2Info(given);
  } catch (err) {
    if (err instanceof AppError && err.code === 'INVALID_ARGUMENT') {
      const then =
        input.purpose === 'create'
          ? 'then create the VM around that copy ("maru create --disk COPY", or "--import-disk FILE" to do both; ' +
            'the new-VM wizard imports it for you)'
          : 'then attach that copy';
      throw new AppError(
        'INVALID_ARGUMENT',
        `${err.message} Maru's VMs use qcow2 disks: bring a VDI, VMDK, VHD, VHDX or raw disk in with ` +
          `"maru disk import ${given}" (it writes a qcow2 copy to ${path.join(home, 'disks')}), ${then}.`,
      );
    }
    throw err;
  }
  if (info.backingFile !== null) {
    throw new AppError(
      'UNSUPPORTED',
      `${given} is an overlay on ${info.backingFile}, which only makes sense with its base: use a standalone ` +
        `disk (make one with "maru disk convert ${given} --format qcow2 --output NEW.qcow2"` +
        (input.purpose === 'create'
          ? ', or let "maru create --import-disk FILE" or the new-VM wizard make a standalone copy).'
          : ').'),
    );
  }
  const real = await realpath(given);
  const realOf = (f: string): Promise<string | null> => realpath(f).catch(() => null);
  for (const d of config.disks) {
    if ((await realOf(path.resolve(folder, d.file))) === real) {
      throw new AppError('ALREADY_EXISTS', `${given} is already attached to VM ${label} as disk ${d.id}.`);
    }
  }
  for (const other of await input.otherVms()) {
    for (const d of other.config.disks) {
      if ((await realOf(path.resolve(other.folder, d.file))) === real) {
        throw new AppError(
          'BUSY',
          `${given} is disk ${d.id} of VM ${JSON.stringify(other.config.name)} (${other.state}); two VMs writing one ` +
            `disk would corrupt it. Detach it there first ("maru storage ${other.config.name} detach ${d.id}"), or ` +
            `clone that VM.`,
        );
      }
    }
  }
  const [realFolder, realHome] = await Promise.all([realOf(folder), realOf(home)]);
  const realImported = await realOf(path.join(home, 'disks'));
  const sizeBytes = info.virtualSize;
  const noop = async (): Promise<void> => undefined;
  if (realFolder && inside(realFolder, real)) {
    const file = path.relative(realFolder, real).split(path.sep).join('/');
    return { disk: { id, file, bus, sizeBytes }, warnings: [], commit: noop, rollback: noop };
  }
  if (realImported && inside(realImported, real)) {
    // An imported disk moves into the VM's folder: a VM uses no disk elsewhere under $MARU_HOME.
    let file = `disks/${path.basename(real)}`;
    for (let n = 2; existsSync(path.join(folder, file)); n++) file = `disks/${id}-${n}-${path.basename(real)}`;
    const target = path.join(folder, file);
    return {
      disk: { id, file, bus, sizeBytes },
      warnings: [`${real} was moved into the VM's folder: ${path.join(shownFolder, file)}.`],
      commit: async () => {
        await mkdir(path.dirname(target), { recursive: true });
        try {
          await rename(real, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EXDEV') {
            throw new AppError(
              'UNSUPPORTED',
              `${real} cannot be moved into ${shownFolder}: they are on different file systems. Copy it there ` +
                `yourself and attach the copy.`,
            );
          }
          throw err;
        }
        await fsyncFolder(path.dirname(target));
        await fsyncFolder(path.dirname(real));
      },
      rollback: async () => {
        try {
          await rename(target, real);
        } catch (err) {
          // Not there: commit never moved it.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw new AppError(
            'IO',
            `${target} could not be moved back to ${real} (${(err as Error).message}); move it back yourself.`,
          );
        }
      },
    };
  }
  if (realHome && (inside(realHome, real) || real === realHome)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${given} lies in Maru's data folder ${home} (another VM's folder or Maru's own files); a VM uses only its own ` +
        'disks there. Clone that VM instead, or copy the disk out ("maru disk convert PATH --format qcow2 --output NEW").',
    );
  }
  return { disk: { id, file: real, bus, sizeBytes, userAttached: true }, warnings: [], commit: noop, rollback: noop };
}
