// The VM library (LibraryService): create, list, show, modify, rename, delete and clone
// VMs under $MARU_HOME/vms. New VMs are built in a hidden staging folder and appear with
// one rename, so no reader ever sees half a VM; configs that fail to parse are never rewritten.
import { randomUUID } from 'node:crypto';
import { constants as fsConstants, existsSync } from 'node:fs';
import { copyFile, cp, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { AppError, CancelledError } from '../../../src-shared/errors';
import { isUuid } from '../../../src-shared/ids';
import { OS_PRESETS } from '../../../src-shared/os-presets';
import {
  CURRENT_SCHEMA_VERSION,
  MAX_FLOPPY_DRIVES,
  vmConfigSchema,
  vmNameProblem,
  type DiskConfig,
  type NicConfig,
  type VmConfig,
} from '../../../src-shared/vm-config';
import { natAdapter, nicMacAddress, nicProblems } from '../../../src-shared/network-adapters';
import {
  attachStorageArgsSchema,
  createVmArgsSchema,
  modifyVmArgsSchema,
  type AttachStorageArgs,
  type AttachStorageResult,
  type VmStorage,
  type CreateResult,
  type CreateVmArgs,
  type DiskDetails,
  type LibraryService,
  type ModifyVmArgs,
  type VmDetails,
  type VmListEntry,
  type VmPowerState,
} from '../../../src-shared/contracts/library';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { createQcow2, readQcow2Info, QCOW2_MAX_VIRTUAL_SIZE } from '../../../src-emulator/disk/qcow2-create';
import { fsyncFolder } from '../../../src-node/atomic-file';
import { pathExists } from '../../../src-node/file-presence';
import { runFolder } from '../../../src-node/run-folder';
import { orphanedDisksFolder, vmFolder, vmsFolder } from '../maru-home';
import { createOverlay } from '../../../src-emulator/engines/qemu/qemu-img';
import { copyFileSparse } from './disk-copy';
import { freeSpaceAt, sparseDiskWarning } from '../disks/free-space';
import { defaultHostLimits, type HostLimits } from './host-limits';
import { checkVmSettings, resolveIsoPath, type CheckedSetting } from './vm-settings';
import {
  checkStorage,
  defaultCdromBus,
  describeStorage,
  nextDriveId,
  prepareDiskAttach,
  prepareExistingDisk,
  type PreparedDisk,
} from './vm-storage';
import { inspectIso } from '../../../src-emulator/media/iso-image';
import { inspectFloppy } from '../../../src-emulator/media/floppy-image';
import {
  VM_CONFIG_FILE,
  isRunning,
  powerStateOf,
  powerStateSync,
  readAllVmRecords,
  readInBatches,
  readVmRecord,
  realDiskLocationProblem,
  readVmNameSync,
  VmRecordCache,
  runFolderNames,
  vmFolderNames,
  writeVmConfig,
  type VmRecord,
} from './vm-store';

/** Constructor options of `Library`. */
export interface LibraryOptions {
  /** The data folder ($MARU_HOME), see resolveMaruHome. */
  readonly maruHome: string;
  /** Host figures settings are checked against; defaults to this machine's. */
  readonly hostLimits?: HostLimits;
  /** Called after every change to the library (create, modify, rename, delete, clone). */
  readonly onDidChange?: () => void;
  /** qemu-img, for linked clones (their overlays). */
  readonly qemuImgPath?: () => Promise<string | null>;
}

/** What `Library.delete` did with the disks it was told to keep. */
export interface DeleteResult {
  /** Where the VM's disks/ folder went (orphaned-disks/<name>-<uuid>), or null when none was kept. */
  readonly keptDisksAt: string | null;
}

type OkRecord = Extract<VmRecord, { kind: 'ok' }>;

const GiB = 1024 * 1024 * 1024;
const SECTOR = 512;
/** Settings that shape the virtual hardware: a saved state no longer fits once they change. */
const HARDWARE_FIELDS = ['engine', 'cpus', 'memoryMiB', 'firmware', 'secureBoot', 'tpm'] as const;
/** Files and folders a full clone copies as they are (the disks and nvram.qcow2 are copied sparsely). */
const CLONED_EXTRAS = ['tpm', 'snapshots.json', 'snapshots', 'last-screen.png'] as const;

/**
 * Case-insensitive natural order ("vm-2" before "vm-10"). Not Intl.Collator: creating one
 * costs ~15 ms in a cold CLI process, more than sorting 500 names.
 */
export function compareNames(a: string, b: string): number {
  const ta = a.toLowerCase().split(/(\d+)/);
  const tb = b.toLowerCase().split(/(\d+)/);
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i] ?? '';
    const y = tb[i] ?? '';
    if (x === y) continue;
    // Odd indexes hold the digit runs of split(/(\d+)/).
    if (i % 2 === 1) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length || (a < b ? -1 : a > b ? 1 : 0);
}

function parseArgs<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new AppError('INVALID_ARGUMENT', `Invalid ${what}: ${why}`);
}

function checkName(name: string): void {
  const problem = vmNameProblem(name);
  if (problem) throw new AppError('INVALID_ARGUMENT', `${JSON.stringify(name)} cannot be a VM name. ${problem}`);
}

function throwIfAborted(job: JobOptions | undefined, what: string): void {
  if (job?.signal?.aborted) throw new CancelledError(`${what} was cancelled.`);
}

/** The final config check: anything the schema refuses here is a bad argument. */
function validConfig(config: VmConfig): VmConfig {
  return parseArgs(vmConfigSchema, config, 'VM settings');
}

function sameName(a: string, b: string): boolean {
  return a.normalize('NFC').toLowerCase() === b.normalize('NFC').toLowerCase();
}

function diskPath(folder: string, disk: DiskConfig): string {
  return path.isAbsolute(disk.file) ? disk.file : path.join(folder, disk.file);
}

/** A media change for a kind of drive the VM does not have. */
function noDrive(c: VmConfig, kind: 'cdrom' | 'floppy'): AppError {
  const what = kind === 'cdrom' ? 'CD/DVD' : 'floppy';
  const type = kind === 'cdrom' ? 'dvd' : 'fdd';
  return new AppError(
    'NOT_FOUND',
    `VM ${JSON.stringify(c.name)} has no ${what} drive. Add one while it is off ` +
      `("maru storage ${c.name} attach --type ${type} --medium emptydrive").`,
  );
}

/** NOT_FOUND for a network adapter the VM does not have (adapters counted from 1 in the message). */
export function noNic(c: VmConfig, index: number): AppError {
  const n = c.nics.length;
  return new AppError(
    'NOT_FOUND',
    `VM ${JSON.stringify(c.name)} has no network adapter ${index + 1} (it has ${n === 0 ? 'none' : n}). ` +
      `Add one while it is off: "maru modify ${c.name} --nic${Math.min(n + 1, 4)} nat".`,
  );
}

/** Adds what went wrong while undoing a failed change to the error the user sees. */
function noteOn(err: unknown, undo: unknown): void {
  if (err instanceof Error) err.message += ` (${undo instanceof Error ? undo.message : String(undo)})`;
}

/** Refuses a set of network adapters the VM cannot have, saying every reason. */
function checkNics(c: Pick<VmConfig, 'id' | 'name' | 'nics'>): void {
  const problems = nicProblems(c);
  if (problems.length > 0) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `The network adapters of VM ${JSON.stringify(c.name)} were not changed: ${problems.join(' ')}`,
    );
  }
}

/**
 * A clone's adapters: MACs of their own (derived from the clone's uuid), as VirtualBox gives a
 * clone by default, so a clone and its source can share a network.
 */
function freshMacs(nics: readonly NicConfig[]): NicConfig[] {
  return nics.map(({ mac: _mac, ...nic }) => nic);
}

/** What of the adapters a saved state depends on (the devices, not what they are plugged into). */
function nicHardware(c: VmConfig): string {
  return JSON.stringify(c.nics.map((n, i) => [n.model, nicMacAddress(c, i)]));
}

/** Moves a folder, copying across file systems when rename cannot. */
async function moveFolder(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await cp(from, to, { recursive: true, errorOnExist: true, force: false });
    await rm(from, { recursive: true, force: true });
  }
}

/**
 * The VM library on the local disk. Mutations inside one process are serialized; across
 * processes (desktop + CLI) the run lock keeps running VMs safe, while two simultaneous
 * creates with one name from two processes are not prevented.
 */
export class Library implements LibraryService {
  readonly maruHome: string;
  readonly hostLimits: HostLimits;
  private queue: Promise<unknown> = Promise.resolve();
  /** Parsed vm.json files, reused by list() while their text is unchanged. */
  private readonly records = new VmRecordCache();

  private readonly onDidChange: () => void;
  private readonly qemuImgPath: () => Promise<string | null>;

  constructor(options: LibraryOptions) {
    this.maruHome = options.maruHome;
    this.hostLimits = options.hostLimits ?? defaultHostLimits();
    this.onDidChange = options.onDidChange ?? (() => undefined);
    this.qemuImgPath = options.qemuImgPath ?? (async () => null);
  }

  /** Every VM, sorted by name; folders whose vm.json fails to parse come last, as inaccessible. */
  async list(): Promise<VmListEntry[]> {
    const home = this.maruHome;
    const [names, running] = await Promise.all([vmFolderNames(home), runFolderNames(home)]);
    this.records.keepOnly(home, names);
    const entries = await readInBatches(names, (batch) =>
      this.records.readSync(home, batch).map((rec): VmListEntry => {
        if (rec.kind === 'inaccessible') {
          return { kind: 'inaccessible', id: rec.folderName, folder: rec.folder, error: rec.error };
        }
        const c = rec.config;
        let state: VmPowerState;
        try {
          state = powerStateSync(home, rec.folderName, running.has(rec.folderName));
        } catch (err) {
          // An unreadable run folder hides this VM's state, not the whole library.
          if (!(err instanceof AppError)) throw err;
          return { kind: 'inaccessible', id: rec.folderName, folder: rec.folder, error: err.message };
        }
        return {
          kind: 'ok',
          id: c.id,
          name: c.name,
          os: c.os,
          engine: c.engine,
          cpus: c.cpus,
          memoryMiB: c.memoryMiB,
          firmware: c.firmware,
          state,
          folder: rec.folder,
        };
      }),
    );
    return entries.sort((a, b) => {
      if (a.kind !== b.kind) return a.kind === 'ok' ? -1 : 1;
      if (a.kind === 'ok' && b.kind === 'ok') return compareNames(a.name, b.name) || (a.id < b.id ? -1 : 1);
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }

  /** One VM by uuid, exact name, or case-insensitive name. */
  async show(ref: string): Promise<VmDetails> {
    return this.details(await this.find(ref));
  }

  async create(args: CreateVmArgs, job?: JobOptions): Promise<CreateResult> {
    const a = parseArgs(createVmArgsSchema, args, 'VM settings');
    checkName(a.name);
    if (a.existingDisk !== undefined && a.diskGiB !== undefined) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `Choose one: the existing disk ${a.existingDisk} or a new disk of ${a.diskGiB} GiB, not both ` +
          '(leave out the disk size to use the existing disk).',
      );
    }
    const preset = OS_PRESETS[a.os];
    const engine = a.engine ?? 'auto';
    const v86 = engine === 'v86';
    // Asking for Secure Boot without naming a firmware means UEFI (an explicit BIOS is refused below).
    const firmware = a.firmware ?? (a.secureBoot ? 'uefi' : v86 ? 'bios' : preset.firmware);
    const warnings: string[] = [];
    let secureBoot = a.secureBoot ?? (firmware === 'uefi' && preset.secureBoot);
    if (a.secureBoot === undefined && preset.secureBoot && firmware !== 'uefi') {
      warnings.push(`Secure Boot is off: ${preset.label} would use it, but it needs UEFI firmware.`);
      secureBoot = false;
    }
    const existing = a.existingDisk !== undefined;
    // The size of a new disk; none is made around an existing one.
    const diskGiB = existing ? 0 : (a.diskGiB ?? preset.diskGiB);
    const sizeBytes = Math.ceil((diskGiB * GiB) / SECTOR) * SECTOR;
    if (!Number.isFinite(diskGiB) || sizeBytes > QCOW2_MAX_VIRTUAL_SIZE) {
      throw new AppError('INVALID_ARGUMENT', `A ${diskGiB} GiB disk is larger than qcow2 allows (2 PiB).`);
    }
    const iso = a.iso ? await resolveIsoPath(a.iso) : null;
    const now = new Date().toISOString();
    const id = randomUUID();
    let draft: VmConfig = {
      schemaVersion: CURRENT_SCHEMA_VERSION,
      id,
      name: a.name,
      os: a.os,
      engine,
      cpus: a.cpus ?? preset.cpus,
      memoryMiB: a.memoryMiB ?? preset.memoryMiB,
      // v86 emulates an i440FX PC with IDE disks, an NE2000 and a Bochs VGA.
      chipset: v86 ? 'pc' : preset.chipset,
      firmware,
      secureBoot,
      tpm: a.tpm ?? (v86 ? false : preset.tpm),
      disks:
        sizeBytes > 0
          ? [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: a.diskBus ?? (v86 ? 'ide' : preset.diskBus), sizeBytes }]
          : [],
      // The CD/DVD drive where the machine has it: q35's SATA controller, a PC's IDE secondary master.
      cdroms: [{ id: 'cd0', iso, bus: !v86 && preset.chipset === 'q35' ? 'ahci' : 'ide' }],
      // DOS and Windows 9x/XP get drive A: (installers and driver disks still come on floppies).
      floppies: preset.floppy ? [{ id: 'fd0', image: null }] : [],
      // An ISO given at creation is an installer: boot it first; an empty disk falls through anyway.
      // With a floppy drive, A: comes first, as on the PCs these guests ran on (an empty drive is skipped).
      // An existing disk holds an installed system: it boots first, whatever else is inserted.
      bootOrder: existing
        ? ['disk', 'cdrom', ...(preset.floppy ? (['floppy'] as const) : [])]
        : [
            ...(preset.floppy ? (['floppy'] as const) : []),
            ...(iso ? (['cdrom', 'disk'] as const) : (['disk', 'cdrom'] as const)),
          ],
      // One NAT adapter of the preset's model (v86 has an NE2000).
      nics: [natAdapter(v86 ? 'ne2k_pci' : preset.nic)],
      display: { vga: v86 ? 'std' : preset.vga },
      description: a.description ?? '',
      createdAt: now,
      modifiedAt: now,
    };
    // The minimum disk size of the OS concerns its installer: an existing disk has the system already.
    const all = new Set<CheckedSetting>(['cpus', 'memoryMiB', 'engine', 'os', ...(existing ? [] : ['disk' as const])]);
    warnings.push(...checkVmSettings(draft, this.hostLimits, all, diskGiB));
    // An existing disk is checked through and through before anything is made, so a refused one leaves nothing.
    let prepared: PreparedDisk | null = null;
    if (a.existingDisk !== undefined) {
      prepared = await prepareExistingDisk({
        home: this.maruHome,
        folder: this.stagingFolder(id),
        finalFolder: vmFolder(this.maruHome, id),
        config: draft,
        bus: a.diskBus,
        medium: a.existingDisk,
        purpose: 'create',
        otherVms: () => this.otherVms(),
      });
      draft = { ...draft, disks: [prepared.disk] };
    }
    warnings.push(...checkStorage(draft));
    const config = validConfig(draft);
    await this.assertNameFree(a.name);
    if (sizeBytes > 0) {
      const tooBig = sparseDiskWarning(sizeBytes, await freeSpaceAt(vmsFolder(this.maruHome)));
      if (tooBig) warnings.push(tooBig);
    }
    throwIfAborted(job, 'Creating the VM');

    const staging = await this.makeStaging(id);
    let folder: string;
    try {
      if (prepared) await prepared.commit();
      else if (config.disks[0]) {
        await createQcow2(path.join(staging, config.disks[0].file), sizeBytes, {
          ...(job?.onProgress ? { onProgress: job.onProgress } : {}),
          ...(job?.signal ? { signal: job.signal } : {}),
        });
      }
      job?.onProgress?.({ phase: 'config', fraction: 0 });
      throwIfAborted(job, 'Creating the VM');
      await writeVmConfig(staging, config);
      folder = await this.commit(staging, config);
    } catch (err) {
      // The user's disk goes back where it was before the half-made VM is removed, never with it.
      const stuck = await (prepared?.rollback() ?? Promise.resolve()).then(
        () => false,
        (undo: unknown) => {
          noteOn(err, undo);
          noteOn(err, `the unfinished VM stays in ${staging}`);
          return true;
        },
      );
      if (!stuck) await this.removeStaging(staging, err);
      throw err;
    }
    job?.onProgress?.({ phase: 'config', fraction: 1 });
    return {
      vm: await this.details({ kind: 'ok', folderName: id, folder, config, migratedFrom: undefined }, 'off'),
      warnings: [...warnings, ...(prepared?.warnings ?? [])],
    };
  }

  async modify(ref: string, patch: ModifyVmArgs): Promise<{ vm: VmDetails; warnings: readonly string[] }> {
    const p = parseArgs(modifyVmArgsSchema, patch, 'changes');
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      const state = await powerStateOf(this.maruHome, c.id);
      if (state === 'running' || state === 'paused') {
        throw new AppError('BUSY', `VM ${JSON.stringify(c.name)} is ${state}; stop it before changing its settings.`);
      }
      const warnings: string[] = [];
      const next: VmConfig = { ...c, cdroms: c.cdroms.map((d) => ({ ...d })) };
      const changed = new Set<CheckedSetting>();
      if (p.name !== undefined && p.name !== c.name) {
        checkName(p.name);
        await this.assertNameFree(p.name, c.id);
        next.name = p.name;
      }
      if (p.engine !== undefined && p.engine !== c.engine) {
        next.engine = p.engine;
        changed.add('engine');
      }
      if (p.cpus !== undefined && p.cpus !== c.cpus) {
        next.cpus = p.cpus;
        changed.add('cpus');
      }
      if (p.memoryMiB !== undefined && p.memoryMiB !== c.memoryMiB) {
        next.memoryMiB = p.memoryMiB;
        changed.add('memoryMiB');
      }
      if (p.firmware !== undefined) next.firmware = p.firmware;
      if (p.secureBoot !== undefined) next.secureBoot = p.secureBoot;
      else if (next.secureBoot && next.firmware !== 'uefi') {
        next.secureBoot = false;
        warnings.push('Secure Boot is now off: it needs UEFI firmware.');
      }
      if (p.tpm !== undefined) next.tpm = p.tpm;
      if (p.iso !== undefined) {
        const drive = next.cdroms[0];
        if (drive) drive.iso = p.iso === null ? null : await resolveIsoPath(p.iso);
        else if (p.iso !== null) throw noDrive(c, 'cdrom');
      }
      if (p.description !== undefined) next.description = p.description;
      if (p.bootOrder !== undefined) next.bootOrder = p.bootOrder;
      if (p.nics !== undefined) {
        next.nics = p.nics.map((n): NicConfig => ({ ...n, portForwards: n.portForwards.map((f) => ({ ...f })) }));
        checkNics(next);
      }
      if (JSON.stringify(next) === JSON.stringify(c)) return { vm: await this.details(rec, state), warnings };

      if (state === 'saved') {
        const hw: string[] = HARDWARE_FIELDS.filter((f) => next[f] !== c[f]);
        if (nicHardware(next) !== nicHardware(c)) hw.push('the network adapters (their number, models or MACs)');
        if (hw.length > 0) {
          throw new AppError(
            'BUSY',
            `VM ${JSON.stringify(c.name)} has a saved state, which only fits its current hardware: ` +
              `discard the saved state before changing ${hw.join(', ')}.`,
          );
        }
      }
      warnings.push(...checkVmSettings(next, this.hostLimits, changed));
      if (changed.has('engine')) warnings.push(...checkStorage(next));
      next.modifiedAt = new Date().toISOString();
      const written = validConfig(next);
      await this.writeConfig(rec, written);
      return { vm: await this.details({ ...rec, config: written, migratedFrom: undefined }, state), warnings };
    });
  }

  async rename(ref: string, newName: string): Promise<VmDetails> {
    return (await this.modify(ref, { name: newName })).vm;
  }

  /**
   * Deletes a VM (refused while it runs). With `deleteDisks` the whole folder goes; without
   * it the VM's `disks/` folder is first moved to `<maruHome>/orphaned-disks/<name>-<uuid>/`
   * (returned as `keptDisksAt`) and the rest — vm.json, logs, NVRAM, TPM state, saved state,
   * snapshot tree — is deleted. Disks attached by absolute path outside the VM folder are
   * never touched. An inaccessible VM can be deleted by its folder name (uuid).
   */
  async deleteVm(ref: string, options: { deleteDisks: boolean }): Promise<DeleteResult> {
    const deleteDisks: unknown = options?.deleteDisks;
    if (typeof deleteDisks !== 'boolean')
      throw new AppError('INVALID_ARGUMENT', 'delete needs deleteDisks: true or false.');
    return this.serial(async () => {
      const rec = await this.findRecord(ref);
      const label = rec.kind === 'ok' ? JSON.stringify(rec.config.name) : rec.folderName;
      if (await isRunning(this.maruHome, rec.folderName)) {
        throw new AppError('BUSY', `VM ${label} is running; stop it before deleting it.`);
      }
      const dependents = await this.linkedClonesOf(rec.folderName);
      if (dependents.length > 0) {
        throw new AppError(
          'BUSY',
          `VM ${label} has linked clones that read its disks: ${dependents.map((c) => JSON.stringify(c.name)).join(', ')}. ` +
            'Delete them, or make them independent (Keep), first.',
        );
      }
      let keptDisksAt: string | null = null;
      const disks = path.join(rec.folder, 'disks');
      if (!deleteDisks && (await pathExists(disks)) && (await readdir(disks)).length > 0) {
        const orphans = orphanedDisksFolder(this.maruHome);
        await mkdir(orphans, { recursive: true });
        const base = `${rec.kind === 'ok' ? rec.config.name : 'vm'}-${rec.folderName}`;
        let dest = path.join(orphans, base);
        for (let n = 2; await pathExists(dest); n++) dest = path.join(orphans, `${base}-${n}`);
        await moveFolder(disks, dest);
        await fsyncFolder(orphans);
        keptDisksAt = dest;
      }
      // One rename makes the VM vanish from every list; the hidden folder is then removed.
      const doomed = path.join(vmsFolder(this.maruHome), `.deleting-${rec.folderName}-${randomUUID().slice(0, 8)}`);
      await rename(rec.folder, doomed);
      await fsyncFolder(vmsFolder(this.maruHome));
      await rm(doomed, { recursive: true, force: true });
      await rm(runFolder(this.maruHome, rec.folderName), { recursive: true, force: true });
      return { keptDisksAt };
    });
  }

  linkedClone(ref: string, newName: string, job?: JobOptions): Promise<VmDetails> {
    return this.makeLinkedClone(ref, newName, { trial: false }, job);
  }

  /**
   * A linked clone of a powered-off VM's current state. Each of the source's disks is frozen:
   * its file is hard-linked as `<disk>.base-<id>.qcow2` and replaced (one rename) by a new
   * overlay on that base, so the source sees the same disk and the base is never written
   * again; the clone gets its own overlay on the same base. Seconds at most, whatever the
   * disk size. NVRAM and TPM state are copied; the clone starts with no snapshots.
   */
  async makeLinkedClone(
    ref: string,
    newName: string,
    options: { trial: boolean },
    job?: JobOptions,
  ): Promise<VmDetails> {
    checkName(newName);
    {
      const rec = await this.find(ref);
      const src = rec.config;
      const label = JSON.stringify(src.name);
      const state = powerStateSync(this.maruHome, src.id);
      if (state !== 'off') {
        throw new AppError(
          'BUSY',
          `VM ${label} is ${state}; a linked clone is made from a powered-off VM. ` +
            (state === 'saved'
              ? 'Start it and power it off, or discard its saved state, first.'
              : 'Power it off first.'),
        );
      }
      await this.assertNameFree(newName);
      const qemuImg = await this.qemuImgPath();
      if (!qemuImg) {
        throw new AppError(
          'MISSING_DEPENDENCY',
          "Linked clones need qemu-img: install QEMU's tools (Debian: qemu-utils).",
        );
      }
      const id = randomUUID();
      const now = new Date().toISOString();
      const staging = await this.makeStaging(id);
      try {
        const disks: DiskConfig[] = [];
        for (const [i, d] of src.disks.entries()) {
          job?.onProgress?.({ phase: 'disk', fraction: i / Math.max(1, src.disks.length) });
          if (d.userAttached || path.isAbsolute(d.file)) {
            throw new AppError(
              'UNSUPPORTED',
              `Disk ${d.id} of VM ${label} is attached from outside its folder; a linked clone shares only the VM's own disks.`,
            );
          }
          const from = diskPath(rec.folder, d);
          const size = (await readQcow2Info(from)).virtualSize;
          const base = from.replace(/(\.qcow2)?$/, `.base-${id.slice(0, 8)}.qcow2`);
          const overlay = `${from}.overlay-${id.slice(0, 8)}`;
          await createOverlay(qemuImg, overlay, path.basename(base), size);
          await link(from, base);
          await rename(overlay, from); // the source now writes to its overlay; the base is frozen
          await fsyncFolder(path.dirname(from));
          const file = `disks/${d.id}.qcow2`;
          await mkdir(path.join(staging, 'disks'), { recursive: true });
          await createOverlay(qemuImg, path.join(staging, file), base, size);
          const { userAttached: _u, ...copied } = d;
          disks.push({ ...copied, file });
        }
        for (const extra of ['nvram.qcow2', 'tpm', 'last-screen.png']) {
          const from = path.join(rec.folder, extra);
          if (await pathExists(from)) await cp(from, path.join(staging, extra), { recursive: true });
        }
        const config = validConfig({
          ...src,
          id,
          name: newName,
          disks,
          nics: freshMacs(src.nics),
          linkedClone: { sourceId: src.id, trial: options.trial },
          createdAt: now,
          modifiedAt: now,
        });
        await writeVmConfig(staging, config);
        const folder = await this.commit(staging, config);
        job?.onProgress?.({ phase: 'disk', fraction: 1 });
        return this.details({ kind: 'ok', folderName: id, folder, config, migratedFrom: undefined }, 'off');
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
    }
  }

  /**
   * Records in vm.json the virtual size disk `diskId` now has (the disks service grew the
   * image itself, with the VM off).
   */
  async recordDiskSize(ref: string, diskId: string, sizeBytes: number): Promise<VmDetails> {
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      if (!c.disks.some((d) => d.id === diskId)) {
        throw new AppError('NOT_FOUND', `VM ${JSON.stringify(c.name)} has no disk ${diskId}.`);
      }
      const written = validConfig({
        ...c,
        disks: c.disks.map((d) => (d.id === diskId ? { ...d, sizeBytes } : d)),
        modifiedAt: new Date().toISOString(),
      });
      await this.writeConfig(rec, written);
      return this.details({ ...rec, config: written, migratedFrom: undefined });
    });
  }

  // ---- storage: drives of a powered-off VM, media of a stored VM

  /** LibraryService.storage: the VM's drives, where QEMU attaches each, and what an engine cannot run. */
  async storage(ref: string): Promise<VmStorage> {
    const vm = await this.details(await this.find(ref));
    return describeStorage(vm.config, vm.folder, vm.disks, existsSync);
  }

  /** LibraryService.attachStorage (see there); the config is written last, after the file work. */
  async attachStorage(ref: string, args: AttachStorageArgs): Promise<AttachStorageResult> {
    const a = parseArgs(attachStorageArgsSchema, args, 'drive');
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      await this.assertOffForStorage(c, 'add a drive to');
      const next: VmConfig = structuredClone(c);
      const warnings: string[] = [];
      let prepared: PreparedDisk | null = null;
      let id: string;
      if (a.type === 'hdd') {
        prepared = await prepareDiskAttach({
          home: this.maruHome,
          folder: rec.folder,
          config: c,
          bus: a.bus,
          medium: a.medium,
          createBytes: a.createBytes,
          otherVms: () => this.otherVms(c.id),
        });
        next.disks.push(prepared.disk);
        id = prepared.disk.id;
        warnings.push(...prepared.warnings);
      } else {
        if (a.createBytes !== undefined) {
          throw new AppError(
            'INVALID_ARGUMENT',
            a.type === 'fdd'
              ? 'A floppy drive takes an image: make an empty one with "maru floppy create FILE" first.'
              : 'A CD/DVD drive takes an ISO image; --create is for hard disks.',
          );
        }
        if (a.type === 'dvd') {
          if (a.bus !== undefined && a.bus !== 'ide' && a.bus !== 'ahci') {
            throw new AppError('INVALID_ARGUMENT', `A CD/DVD drive sits on IDE or SATA, not ${a.bus}.`);
          }
          id = nextDriveId(c, 'cd');
          const iso = a.medium ? (await inspectIso(a.medium)).path : null;
          next.cdroms.push({ id, iso, bus: a.bus ?? defaultCdromBus(c) });
        } else {
          if (a.bus !== undefined) {
            throw new AppError('INVALID_ARGUMENT', 'A floppy drive sits on the floppy controller: leave out the bus.');
          }
          if (c.floppies.length >= MAX_FLOPPY_DRIVES) {
            throw new AppError(
              'INVALID_ARGUMENT',
              `A PC has two floppy drives (A: and B:) and VM ${JSON.stringify(c.name)} has both ` +
                `(${c.floppies.map((f) => f.id).join(', ')}). Change the floppy in one ("maru floppy ${c.name} insert FILE").`,
            );
          }
          id = nextDriveId(c, 'fd');
          const image = a.medium ? (await inspectFloppy(a.medium)).path : null;
          next.floppies.push({ id, image });
        }
      }
      warnings.push(...checkStorage(next));
      next.modifiedAt = new Date().toISOString();
      const written = validConfig(next);
      try {
        await prepared?.commit();
        await this.writeConfig(rec, written);
      } catch (err) {
        await prepared?.rollback().catch((undo: unknown) => noteOn(err, undo));
        throw err;
      }
      const vm = await this.details({ ...rec, config: written, migratedFrom: undefined }, 'off');
      const drive = describeStorage(written, rec.folder, vm.disks, existsSync).drives.find((d) => d.id === id)!;
      return { vm, drive, warnings };
    });
  }

  /** LibraryService.detachStorage: the drive leaves the config; a disk's file stays where it is. */
  async detachStorage(ref: string, driveId: string): Promise<{ vm: VmDetails; keptFile: string | null }> {
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      await this.assertOffForStorage(c, 'remove a drive from');
      const disk = c.disks.find((d) => d.id === driveId);
      if (!disk && !c.cdroms.some((d) => d.id === driveId) && !c.floppies.some((d) => d.id === driveId)) {
        const ids = [...c.disks, ...c.cdroms, ...c.floppies].map((d) => d.id);
        throw new AppError(
          'NOT_FOUND',
          `VM ${JSON.stringify(c.name)} has no drive "${driveId}" (it has ${ids.join(', ') || 'none'}).`,
        );
      }
      const written = validConfig({
        ...c,
        disks: c.disks.filter((d) => d.id !== driveId),
        cdroms: c.cdroms.filter((d) => d.id !== driveId),
        floppies: c.floppies.filter((d) => d.id !== driveId),
        modifiedAt: new Date().toISOString(),
      });
      await this.writeConfig(rec, written);
      return {
        vm: await this.details({ ...rec, config: written, migratedFrom: undefined }, 'off'),
        keptFile: disk ? diskPath(rec.folder, disk) : null,
      };
    });
  }

  /**
   * Puts an image in a stored (not running) VM's CD/DVD or floppy drive, or empties it. `drive`:
   * a drive id, or `cdrom` / `floppy` for the first of that kind. The image is checked (an ISO,
   * a floppy-sized file) before anything is written. The VM runtime calls this when the VM is off.
   */
  async changeMedium(
    ref: string,
    drive: string,
    medium: string | null,
  ): Promise<{ vm: VmDetails; drive: string; kind: 'cdrom' | 'floppy'; medium: string | null }> {
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      const state = await powerStateOf(this.maruHome, c.id);
      if (state === 'running' || state === 'paused') {
        throw new AppError(
          'BUSY',
          `VM ${JSON.stringify(c.name)} is ${state}: its drives change through the running engine.`,
        );
      }
      const cd = drive === 'cdrom' ? c.cdroms[0] : c.cdroms.find((d) => d.id === drive);
      const fd = drive === 'floppy' ? c.floppies[0] : c.floppies.find((d) => d.id === drive);
      if (!cd && !fd) {
        if (drive === 'cdrom' || drive === 'floppy') throw noDrive(c, drive);
        const isDisk = c.disks.some((d) => d.id === drive);
        const ids = [...c.cdroms, ...c.floppies].map((d) => d.id);
        throw new AppError(
          'NOT_FOUND',
          isDisk
            ? `${drive} is a hard disk of VM ${JSON.stringify(c.name)}; media change in CD/DVD and floppy drives (${ids.join(', ') || 'it has none'}).`
            : `VM ${JSON.stringify(c.name)} has no CD/DVD or floppy drive "${drive}" (it has ${ids.join(', ') || 'none'}).`,
        );
      }
      const kind = cd ? 'cdrom' : 'floppy';
      const image = medium === null ? null : cd ? (await inspectIso(medium)).path : (await inspectFloppy(medium)).path;
      const id = (cd ?? fd)!.id;
      const written = validConfig({
        ...c,
        cdroms: c.cdroms.map((d) => (d.id === id ? { ...d, iso: image } : d)),
        floppies: c.floppies.map((d) => (d.id === id ? { ...d, image } : d)),
        modifiedAt: new Date().toISOString(),
      });
      if (
        JSON.stringify(written.cdroms) !== JSON.stringify(c.cdroms) ||
        JSON.stringify(written.floppies) !== JSON.stringify(c.floppies)
      ) {
        await this.writeConfig(rec, written);
      }
      return {
        vm: await this.details({ ...rec, config: written, migratedFrom: undefined }, state),
        drive: id,
        kind,
        medium: image,
      };
    });
  }

  /**
   * Changes network adapter `index` (from 0) of a VM in its config, running or not: the VM
   * runtime calls this after the running engine took the change (cable, port forwards), or
   * instead of it when the VM is off. `change` gets the adapter and returns it changed (or
   * throws what is wrong); the VM's adapters are checked as a whole before anything is written.
   */
  async changeNic(
    ref: string,
    index: number,
    change: (nic: NicConfig, config: VmConfig) => NicConfig,
  ): Promise<{ vm: VmDetails; nic: NicConfig }> {
    return this.serial(async () => {
      const rec = await this.find(ref);
      const c = rec.config;
      const nic = c.nics[index];
      if (!nic) throw noNic(c, index);
      const changed = change(nic, c);
      const next: VmConfig = { ...c, nics: c.nics.map((n, i) => (i === index ? changed : n)) };
      checkNics(next);
      if (JSON.stringify(next.nics) === JSON.stringify(c.nics)) {
        return { vm: await this.details(rec, await powerStateOf(this.maruHome, c.id)), nic };
      }
      const written = validConfig({ ...next, modifiedAt: new Date().toISOString() });
      await this.writeConfig(rec, written);
      const state = await powerStateOf(this.maruHome, c.id);
      return {
        vm: await this.details({ ...rec, config: written, migratedFrom: undefined }, state),
        nic: written.nics[index]!,
      };
    });
  }

  /** Every VM but `exceptId`, with its folder and state: whose disks a disk given to a VM must not be. */
  private async otherVms(exceptId?: string): Promise<{ config: VmConfig; folder: string; state: string }[]> {
    return (await readAllVmRecords(this.maruHome))
      .filter((r): r is OkRecord => r.kind === 'ok' && r.config.id !== exceptId)
      .map((r) => ({ config: r.config, folder: r.folder, state: powerStateSync(this.maruHome, r.folderName) }));
  }

  /** Adding or removing hardware needs the VM off, without a saved state (which only fits the hardware it was saved on). */
  private async assertOffForStorage(c: VmConfig, what: string): Promise<void> {
    const state = await powerStateOf(this.maruHome, c.id);
    const label = JSON.stringify(c.name);
    if (state === 'running' || state === 'paused') {
      throw new AppError(
        'BUSY',
        `VM ${label} is ${state}; stop it to ${what} it. (A CD/DVD or floppy can be changed while it runs: ` +
          `"maru attach-iso ${c.name} ISO", "maru floppy ${c.name} insert FILE".)`,
      );
    }
    if (state === 'saved') {
      throw new AppError(
        'BUSY',
        `VM ${label} has a saved state, which only fits its current drives: discard it ("maru discard-state ${c.name}") ` +
          `or start the VM and shut it down, then ${what} it.`,
      );
    }
  }

  /** The VMs whose disks are overlays on this VM's frozen bases. */
  async linkedClonesOf(vmId: string): Promise<VmConfig[]> {
    const records = await readAllVmRecords(this.maruHome);
    return records.flatMap((r) => (r.kind === 'ok' && r.config.linkedClone?.sourceId === vmId ? [r.config] : []));
  }

  /** LibraryService.delete: `deleteVm` without the result (see there). */
  async delete(ref: string, options: { deleteDisks: boolean }): Promise<void> {
    await this.deleteVm(ref, options);
  }

  /**
   * Full clone: a new uuid and name, every disk copied sparsely (progress phase 'disk'),
   * plus NVRAM, TPM state and the snapshot tree; logs and saved state are not copied.
   * Refused while the source runs; cancelling removes the partial clone.
   */
  async clone(ref: string, newName: string, job?: JobOptions): Promise<VmDetails> {
    checkName(newName);
    const rec = await this.find(ref);
    const src = rec.config;
    if (await isRunning(this.maruHome, src.id)) {
      throw new AppError('BUSY', `VM ${JSON.stringify(src.name)} is running; stop it before cloning it.`);
    }
    await this.assertNameFree(newName);
    const copies: { from: string; to: string; size: number }[] = [];
    const disks: DiskConfig[] = [];
    for (const d of src.disks) {
      const from = diskPath(rec.folder, d);
      const info = await readQcow2Info(from).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'NOT_FOUND') {
          throw new AppError('NOT_FOUND', `Disk ${d.id} of VM ${JSON.stringify(src.name)} is missing (${from}).`);
        }
        throw err;
      });
      if (info.backingFile !== null) {
        throw new AppError(
          'UNSUPPORTED',
          `Disk ${d.id} of VM ${JSON.stringify(src.name)} is an overlay on ${info.backingFile}; ` +
            'cloning linked disks is not supported yet.',
        );
      }
      const inside = !path.isAbsolute(d.file) && !path.normalize(d.file).startsWith('..');
      const file = inside ? path.normalize(d.file).split(path.sep).join('/') : `disks/${d.id}.qcow2`;
      // The copy lives in the clone's own folder: it is no longer an attachment.
      const { userAttached: _attached, ...copied } = d;
      disks.push({ ...copied, file });
      copies.push({ from, to: file, size: (await stat(from)).size });
    }
    const nvram = path.join(rec.folder, 'nvram.qcow2');
    if (await pathExists(nvram)) copies.push({ from: nvram, to: 'nvram.qcow2', size: (await stat(nvram)).size });
    throwIfAborted(job, 'Cloning the VM');

    const id = randomUUID();
    const now = new Date().toISOString();
    const config = validConfig({
      ...src,
      id,
      name: newName,
      disks,
      nics: freshMacs(src.nics),
      createdAt: now,
      modifiedAt: now,
    });
    const staging = await this.makeStaging(id);
    try {
      const total = copies.reduce((n, c) => n + c.size, 0);
      let before = 0;
      job?.onProgress?.({ phase: 'disk', fraction: 0 });
      for (const c of copies) {
        const to = path.join(staging, c.to);
        await mkdir(path.dirname(to), { recursive: true });
        await copyFileSparse(c.from, to, {
          ...(job?.signal ? { signal: job.signal } : {}),
          onBytes: (done) => job?.onProgress?.({ phase: 'disk', fraction: total ? (before + done) / total : 1 }),
        });
        before += c.size;
      }
      for (const extra of CLONED_EXTRAS) {
        const from = path.join(rec.folder, extra);
        if (await pathExists(from)) {
          await cp(from, path.join(staging, extra), { recursive: true, errorOnExist: true, force: false });
        }
      }
      job?.onProgress?.({ phase: 'config', fraction: 0 });
      throwIfAborted(job, 'Cloning the VM');
      await writeVmConfig(staging, config);
      const folder = await this.commit(staging, config);
      job?.onProgress?.({ phase: 'config', fraction: 1 });
      return this.details({ kind: 'ok', folderName: id, folder, config, migratedFrom: undefined }, 'off');
    } catch (err) {
      await this.removeStaging(staging, err);
      throw err;
    }
  }

  /**
   * A new VM around existing qcow2 images (an imported appliance's disks): the VM is created
   * without a disk, then each image is moved (renamed: same host disk) into its `disks/` folder
   * and recorded in vm.json. On failure the VM goes again, with what was moved. Images must lie
   * under $MARU_HOME (the caller converted them there). `nicCount`: that many NAT adapters
   * (default: the one create gives).
   */
  async createWithDisks(
    settings: Omit<CreateVmArgs, 'diskGiB' | 'iso'>,
    images: readonly { readonly file: string; readonly bus: 'ide' | 'ahci' }[],
    job?: JobOptions,
    options: { readonly nicCount?: number } = {},
  ): Promise<CreateResult> {
    const made = await this.create({ ...settings, diskGiB: 0 }, job);
    const id = made.vm.config.id;
    try {
      const disks: DiskConfig[] = [];
      await mkdir(path.join(made.vm.folder, 'disks'), { recursive: true, mode: 0o700 });
      for (const [i, image] of images.entries()) {
        throwIfAborted(job, 'Creating the VM');
        const file = `disks/disk${i}.qcow2`;
        const sizeBytes = (await readQcow2Info(image.file)).virtualSize;
        await rename(image.file, path.join(made.vm.folder, file));
        disks.push({ id: `disk${i}`, file, bus: image.bus, sizeBytes });
      }
      // `nicCount` NAT adapters of the model create gave the first (the preset's).
      const model = made.vm.config.nics[0]?.model ?? 'e1000';
      const nics =
        options.nicCount === undefined
          ? made.vm.config.nics
          : Array.from({ length: options.nicCount }, () => natAdapter(model));
      const config = validConfig({
        ...made.vm.config,
        disks,
        nics,
        bootOrder: ['disk', 'cdrom'],
        modifiedAt: new Date().toISOString(),
      });
      await writeVmConfig(made.vm.folder, config);
      this.onDidChange();
      return { vm: await this.show(id), warnings: made.warnings };
    } catch (err) {
      await this.delete(id, { deleteDisks: true }).catch(() => undefined);
      throw err;
    }
  }

  // ---- internals ----

  /** Runs mutations of this process one after another. */
  /** Runs a mutation after the ones before it; announces the change when it succeeds. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run.then((value) => {
      this.onDidChange();
      return value;
    });
  }

  /** A VM by ref, or NOT_FOUND; an inaccessible VM (found by its folder name) is returned as such. */
  private async findRecord(ref: string): Promise<VmRecord> {
    const lower = ref.toLowerCase();
    if (isUuid(lower) && (await pathExists(vmFolder(this.maruHome, lower)))) {
      return readVmRecord(this.maruHome, lower);
    }
    const ok = (await readAllVmRecords(this.maruHome)).filter((r): r is OkRecord => r.kind === 'ok');
    const exact = ok.find((r) => r.config.name === ref);
    if (exact) return exact;
    const loose = ok.filter((r) => sameName(r.config.name, ref));
    if (loose.length === 1 && loose[0]) return loose[0];
    if (loose.length > 1) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${loose.length} VMs are named like ${JSON.stringify(ref)} (differing in case); use the exact name or the uuid.`,
      );
    }
    throw new AppError('NOT_FOUND', `No VM is named ${JSON.stringify(ref)} or has that id.`);
  }

  /** Like findRecord, but an inaccessible VM is an INACCESSIBLE error with its reason. */
  private async find(ref: string): Promise<OkRecord> {
    const rec = await this.findRecord(ref);
    if (rec.kind === 'inaccessible') {
      throw new AppError('INACCESSIBLE', `VM ${rec.folderName} is inaccessible: ${rec.error}`, {
        id: rec.folderName,
        folder: rec.folder,
      });
    }
    // vm.json's disk paths were checked as written; here through symlinks too.
    for (const disk of rec.config.disks) {
      const problem = await realDiskLocationProblem(this.maruHome, rec.folder, disk);
      if (problem) {
        throw new AppError('INACCESSIBLE', `VM ${JSON.stringify(rec.config.name)} is inaccessible: ${problem}`, {
          id: rec.folderName,
          folder: rec.folder,
        });
      }
    }
    return rec;
  }

  /**
   * Refuses a name another VM has, compared case-insensitively — including VMs whose
   * config this Maru cannot open but whose vm.json names them.
   */
  private async assertNameFree(name: string, exceptId?: string): Promise<void> {
    const names = await vmFolderNames(this.maruHome);
    const taken = await readInBatches(names, (batch) =>
      batch.map((folder) => ({ folder, name: readVmNameSync(this.maruHome, folder) })),
    );
    for (const t of taken) {
      if (t.folder !== exceptId && t.name !== undefined && sameName(t.name, name)) {
        throw new AppError(
          'ALREADY_EXISTS',
          `A VM named ${JSON.stringify(t.name)} already exists (id ${t.folder}); choose another name.`,
          { id: t.folder },
        );
      }
    }
  }

  /**
   * A hidden folder (`vms/.creating-<id>`, with disks/ and logs/) where a new VM is built before
   * `commit` moves it into place; also the backup service's, for imports.
   */
  async makeStaging(id: string): Promise<string> {
    await mkdir(vmsFolder(this.maruHome), { recursive: true });
    const staging = this.stagingFolder(id);
    await mkdir(staging);
    await mkdir(path.join(staging, 'disks'));
    await mkdir(path.join(staging, 'logs'));
    return staging;
  }

  /** Where `makeStaging` builds VM `id` (the folder need not exist). */
  private stagingFolder(id: string): string {
    return path.join(vmsFolder(this.maruHome), `.creating-${id}`);
  }

  /** Removes a staging folder after a failure, noting on `err` if even that fails. */
  async removeStaging(staging: string, err: unknown): Promise<void> {
    await rm(staging, { recursive: true, force: true }).catch((rmErr: unknown) => {
      if (err instanceof Error) err.message += ` (the partial VM in ${staging} could not be removed: ${String(rmErr)})`;
    });
  }

  /** Moves a finished staging folder to vms/<uuid> after a last name check, durably. */
  async commit(staging: string, config: VmConfig): Promise<string> {
    return this.serial(async () => {
      await this.assertNameFree(config.name);
      const folder = vmFolder(this.maruHome, config.id);
      await rename(staging, folder);
      await fsyncFolder(vmsFolder(this.maruHome));
      return folder;
    });
  }

  /**
   * Puts a finished staging folder in the place of VM `config.id` (a backup restored over it):
   * the old folder is renamed aside, the new one renamed in, then the old one removed. Refused
   * while that VM runs. Should the second rename fail, the old folder is put back. A crash
   * between the two renames leaves the old VM in `vms/.replaced-<uuid>-*` (moved back by hand).
   */
  async commitReplacing(staging: string, config: VmConfig): Promise<string> {
    return this.serial(async () => {
      await this.assertNameFree(config.name, config.id);
      if (await isRunning(this.maruHome, config.id)) {
        throw new AppError('BUSY', `VM ${JSON.stringify(config.name)} is running; stop it before replacing it.`);
      }
      const folder = vmFolder(this.maruHome, config.id);
      const aside = path.join(vmsFolder(this.maruHome), `.replaced-${config.id}-${randomUUID().slice(0, 8)}`);
      await rename(folder, aside);
      try {
        await rename(staging, folder);
      } catch (err) {
        await rename(aside, folder);
        throw err;
      }
      await fsyncFolder(vmsFolder(this.maruHome));
      await rm(aside, { recursive: true, force: true });
      return folder;
    });
  }

  /** Writes a modified config; an older-schema file is first kept as vm.json.v<N>.bak. */
  private async writeConfig(rec: OkRecord, config: VmConfig): Promise<void> {
    if (rec.migratedFrom !== undefined) {
      const file = path.join(rec.folder, VM_CONFIG_FILE);
      try {
        await copyFile(file, `${file}.v${rec.migratedFrom}.bak`, fsConstants.COPYFILE_EXCL);
      } catch (err) {
        // An existing backup is the first (oldest) one: keep it.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    await writeVmConfig(rec.folder, config);
  }

  private async details(rec: OkRecord, state?: VmPowerState): Promise<VmDetails> {
    const [powerState, disks] = await Promise.all([
      state ?? powerStateOf(this.maruHome, rec.config.id),
      Promise.all(rec.config.disks.map((d) => this.diskDetails(rec.folder, d))),
    ]);
    return {
      config: rec.config,
      folder: rec.folder,
      state: powerState,
      disks,
      ...(rec.migratedFrom !== undefined ? { migratedFrom: rec.migratedFrom } : {}),
    };
  }

  private async diskDetails(folder: string, d: DiskConfig): Promise<DiskDetails> {
    const file = diskPath(folder, d);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return { id: d.id, path: file, bus: d.bus, virtualSizeBytes: d.sizeBytes, allocatedBytes: null, exists: false };
    }
    // A disk whose header cannot be read still shows, with the size it was created with.
    const info = await readQcow2Info(file).catch((err: unknown) => {
      if (err instanceof AppError) return null;
      throw err;
    });
    return {
      id: d.id,
      path: file,
      bus: d.bus,
      virtualSizeBytes: info?.virtualSize ?? d.sizeBytes,
      allocatedBytes: typeof st.blocks === 'number' ? st.blocks * 512 : null,
      exists: true,
    };
  }
}
