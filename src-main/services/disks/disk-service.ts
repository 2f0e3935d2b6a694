// The `disks` control service: reads what a disk image is, imports VDI/VMDK/VHD/VHDX/raw/qcow2
// disks as qcow2 under $MARU_HOME/disks, grows and compacts a powered-off VM's disks and
// converts images to other formats — all through qemu-img, with progress and cancel — and
// writes new empty floppy images. A source is only ever read; new files appear under their
// final name only once complete.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  DISK_FORMAT_LABEL,
  DISK_MAX_BYTES,
  type DiskCompactResult,
  type DiskCreateResult,
  type DiskConvertResult,
  type DiskFormat,
  type DiskImageInfo,
  type DiskImportOptions,
  type DiskImportResult,
  type DiskResizeResult,
  type DiskService,
} from '../../../src-shared/contracts/disks';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmDetails } from '../../../src-shared/contracts/library';
import { AppError, CancelledError } from '../../../src-shared/errors';
import { formatBytes } from '../../../src-shared/format-bytes';
import { fsyncFolder } from '../../../src-node/atomic-file';
import { pathExists } from '../../../src-node/file-presence';
import {
  checkImageOf,
  convertImage,
  imageChain,
  imageInfo,
  measureImage,
  resizeImage,
  type QemuImageInfo,
} from '../../../src-emulator/engines/qemu/qemu-img';
import { readVdiLayout } from '../../../src-emulator/disk/vdi-header';
import { createFloppyImage } from '../../../src-emulator/media/floppy-image';
import { createQcow2 } from '../../../src-emulator/disk/qcow2-create';
import type { CreatableFloppySize } from '../../../src-shared/storage-layout';
import type { Library } from '../library/library-service';
import { disksFolder } from '../maru-home';
import { bytesWithCount, freeSpaceAt, sparseDiskWarning } from './free-space';

/** Maru's format names → QEMU's driver names. */
const QEMU_FORMAT: Record<DiskFormat, string> = {
  qcow2: 'qcow2',
  raw: 'raw',
  vdi: 'vdi',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vhdx: 'vhdx',
};
const FROM_QEMU: Readonly<Record<string, DiskFormat>> = Object.fromEntries(
  Object.entries(QEMU_FORMAT).map(([maru, qemu]) => [qemu, maru as DiskFormat]),
);
/** Creation options of each target format: the kinds VirtualBox, VMware and Hyper-V read. */
const TARGET_OPTIONS: Record<DiskFormat, readonly string[]> = {
  qcow2: [],
  raw: [],
  vdi: [],
  vmdk: ['subformat=monolithicSparse'],
  // force_size: the exact virtual size, not one rounded to a CHS geometry.
  vhd: ['subformat=dynamic', 'force_size=on'],
  vhdx: [],
};
/** The extensions each format's files usually have. */
const EXTENSIONS: Record<DiskFormat, readonly string[]> = {
  qcow2: ['.qcow2', '.qcow'],
  raw: ['.img', '.raw', '.bin'],
  vdi: ['.vdi'],
  vmdk: ['.vmdk'],
  vhd: ['.vhd'],
  vhdx: ['.vhdx'],
};
/** Formats `qemu-img check` can vouch for (raw and VHD have no check). */
const CHECKABLE = new Set<DiskFormat>(['qcow2', 'vmdk', 'vdi', 'vhdx']);
/** ISO 9660's "CD001" at the start of the first volume descriptor (sector 16). */
const ISO_MAGIC_OFFSET = 16 * 2048 + 1;
const SECTOR = 512;

export interface DiskServiceOptions {
  readonly maruHome: string;
  readonly library: Library;
  /** Ends a QEMU a dead engine host left holding a VM's images (the VM runtime's). */
  readonly releaseAbandoned: (vmRef: string) => Promise<void>;
  /** qemu-img, as the host probe found it (null: not installed). */
  readonly qemuImgPath: () => Promise<string | null>;
  /** A VM's disks changed (grown or compacted). */
  readonly onDidChangeVm: (vmId: string) => void;
}

/** A problem that makes an image unfit to import or convert, with the error code to refuse with. */
interface Problem {
  readonly code: 'INVALID_ARGUMENT' | 'UNSUPPORTED' | 'BUSY' | 'NOT_FOUND';
  readonly message: string;
}

interface Examined {
  readonly info: DiskImageInfo;
  readonly qemu: QemuImageInfo;
  readonly problem: Problem | null;
}

function label(vm: VmDetails): string {
  return JSON.stringify(vm.config.name);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The line of qemu-img's output that says what is wrong (not its JSON report). */
function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^qemu-img: /, '').trim())
    .filter((l) => l && !/^[{}"[\]]/.test(l));
  return lines.find((l) => /error|truncat|after|beyond|invalid|corrupt/i.test(l)) ?? lines[0] ?? '';
}

/** What qemu-img said about an image, as an error that says what happened and what to do. */
function translate(file: string, err: unknown): unknown {
  if (!(err instanceof AppError) || err.code !== 'IO') return err;
  const said = String(err.details?.['stderr'] ?? err.message);
  const line = firstLine(said);
  if (/Failed to get .*lock|Is another process using the image/i.test(said)) {
    return new AppError(
      'BUSY',
      `${file} is in use by another program (a running VM?): qemu-img could not lock it. Stop what uses it, then try again.`,
    );
  }
  if (/No space left on device/i.test(said)) {
    return new AppError(
      'HOST_LIMIT',
      `The host disk filled up while writing (${line}). Nothing was kept; free some space, then try again.`,
    );
  }
  if (/truncat|after (the )?end of (the )?file|after EOF|beyond the end/i.test(said)) {
    return new AppError(
      'INVALID_ARGUMENT',
      `${file} is damaged or truncated (${line}); a copy cut short cannot be read whole. Copy it again from where it came from.`,
    );
  }
  const missing = /Could not open '([^']+)': No such file/i.exec(said);
  if (missing && path.resolve(missing[1]!) !== path.resolve(file)) {
    return new AppError(
      'NOT_FOUND',
      `A file ${file} needs is missing: ${missing[1]}. Put it back next to ${path.basename(file)} (a split VMDK or an overlay needs every part).`,
    );
  }
  return new AppError('INVALID_ARGUMENT', `qemu-img cannot read ${file} as a disk image: ${line || err.message}`);
}

function randomTag(): string {
  return randomBytes(4).toString('hex');
}

async function allocatedBytes(file: string): Promise<number> {
  const st = await stat(file);
  return typeof st.blocks === 'number' ? st.blocks * SECTOR : st.size;
}

/**
 * Gives a finished temporary file its final name, never replacing a file there: a hard link
 * (fails if the name was taken meanwhile), else — on file systems without links — a rename
 * after a last look.
 */
async function publish(tmp: string, dest: string): Promise<void> {
  try {
    await link(tmp, dest);
    await unlink(tmp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new AppError('ALREADY_EXISTS', `${dest} appeared while the copy was being written; nothing was replaced.`);
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (await pathExists(dest)) {
      throw new AppError('ALREADY_EXISTS', `${dest} appeared while the copy was being written; nothing was replaced.`);
    }
    await rename(tmp, dest);
  }
  await fsyncFolder(path.dirname(dest));
}

/** The least a compaction must give back to replace the original. */
const COMPACT_MIN_GAIN_BYTES = 2 ** 20;

export class Disks implements DiskService {
  /** VMs with a disk operation under way in this process: what it is. */
  private readonly busy = new Map<string, string>();

  constructor(private readonly options: DiskServiceOptions) {}

  /** Refuses while a disk of the VM is being grown or compacted (the VM runtime asks before a start). */
  async assertIdle(vmRef: string): Promise<void> {
    if (this.busy.size === 0) return; // the usual case: no lookup on the way to a start
    const vm = await this.options.library.show(vmRef);
    const what = this.busy.get(vm.config.id);
    if (what) {
      throw new AppError(
        'BUSY',
        `VM ${label(vm)} cannot start while its disk is being ${what}; wait for it to finish.`,
      );
    }
  }

  // ---- reading

  async inspect(file: string): Promise<DiskImageInfo> {
    return (await this.examine(file, { shared: true })).info;
  }

  async create(targetPath: string, sizeBytes: number): Promise<DiskCreateResult> {
    if (!path.isAbsolute(targetPath)) throw new AppError('INVALID_ARGUMENT', `${targetPath} is not an absolute path.`);
    const target = path.extname(targetPath) ? targetPath : `${targetPath}.qcow2`;
    if (path.extname(target).toLowerCase() !== '.qcow2') {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${target}: Maru creates qcow2 disks; name it .qcow2 (make another format from it with "maru disk convert").`,
      );
    }
    await mkdir(path.dirname(target), { recursive: true });
    const made = await createQcow2(target, sizeBytes);
    await fsyncFolder(path.dirname(target));
    const warning = sparseDiskWarning(made.virtualSize, await freeSpaceAt(target));
    return { path: target, virtualSizeBytes: made.virtualSize, warnings: warning ? [warning] : [] };
  }

  // ---- import and convert

  async import(file: string, options: DiskImportOptions, job: JobOptions = {}): Promise<DiskImportResult> {
    const started = Date.now();
    job.onProgress?.({ phase: 'check', fraction: 0 });
    const source = await this.usable(file, options.sourceFormat);
    const folder = disksFolder(this.options.maruHome);
    await mkdir(folder, { recursive: true });
    const name = importName(options.name ?? defaultName(source.info.path));
    const target = path.join(folder, name);
    if (await pathExists(target)) {
      throw new AppError(
        'ALREADY_EXISTS',
        `${target} already exists; import under another name (--name), or remove that disk first.`,
      );
    }
    const qemuImg = await this.tool();
    const need = (await measureImage(qemuImg, source.info.path, source.qemu.format, 'qcow2')).requiredBytes;
    await this.assertRoom(folder, need, `Importing ${source.info.path} as qcow2`);
    await this.writeCopy(source, target, 'qcow2', 'import', job);
    const image = (await this.examine(target, { shared: false, verify: false })).info;
    return {
      path: target,
      image,
      source: source.info,
      seconds: (Date.now() - started) / 1000,
      warnings: copyWarnings(source.info),
    };
  }

  async convert(
    file: string,
    targetFormat: DiskFormat,
    targetPath: string,
    job: JobOptions = {},
  ): Promise<DiskConvertResult> {
    const started = Date.now();
    job.onProgress?.({ phase: 'check', fraction: 0 });
    const source = await this.usable(file);
    const target = path.resolve(targetPath);
    if (await pathExists(target)) {
      throw new AppError(
        'ALREADY_EXISTS',
        `${target} already exists; Maru never replaces a file. Choose another name.`,
      );
    }
    const folder = path.dirname(target);
    const st = await stat(folder).catch(() => null);
    if (!st?.isDirectory()) {
      throw new AppError('NOT_FOUND', `The folder ${folder} does not exist; create it or choose another place.`);
    }
    const qemuImg = await this.tool();
    // qemu-img measures qcow2 and raw only; the sparse formats need about what qcow2 needs.
    const need =
      targetFormat === 'raw'
        ? source.info.virtualSizeBytes
        : (await measureImage(qemuImg, source.info.path, source.qemu.format, 'qcow2')).requiredBytes;
    await this.assertRoom(folder, need, `Converting ${source.info.path} to ${DISK_FORMAT_LABEL[targetFormat]}`);
    await this.writeCopy(source, target, targetFormat, 'convert', job);
    const image = (await this.examine(target, { shared: false, verify: false })).info;
    const warnings = copyWarnings(source.info);
    const ext = path.extname(target).toLowerCase();
    if (!EXTENSIONS[targetFormat].includes(ext)) {
      warnings.push(
        `${path.basename(target)} holds a ${DISK_FORMAT_LABEL[targetFormat]} image but its name does not end in ` +
          `${EXTENSIONS[targetFormat].join(' or ')}: other programs may not recognise it.`,
      );
    }
    return { path: target, image, source: source.info, seconds: (Date.now() - started) / 1000, warnings };
  }

  async createFloppy(targetPath: string, size: CreatableFloppySize): Promise<{ path: string; bytes: number }> {
    const made = await createFloppyImage(targetPath, size);
    return { path: made.path, bytes: made.bytes };
  }

  // ---- a VM's disks

  resize(vmRef: string, diskIndex: number, newSizeBytes: number, job: JobOptions = {}): Promise<DiskResizeResult> {
    return this.onVmDisk(vmRef, diskIndex, 'grown', async (vm, diskId, file) => {
      job.onProgress?.({ phase: 'resize', fraction: 0 });
      const qemuImg = await this.tool();
      const info = await imageInfo(qemuImg, file).catch((err: unknown) => {
        throw translate(file, err);
      });
      const oldSize = info['virtual-size'];
      const size = Math.ceil(newSizeBytes / SECTOR) * SECTOR;
      if (size > DISK_MAX_BYTES) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `${formatBytes(size)} is more than a disk may be (${formatBytes(DISK_MAX_BYTES)}).`,
        );
      }
      if (size < oldSize) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `Disk ${diskId} of VM ${label(vm)} is ${bytesWithCount(oldSize)}; ${bytesWithCount(size)} would shrink it. ` +
            "Maru does not shrink disks: the guest's partitions and file systems reach to the disk's end, and " +
            'whatever lies past the new end would be lost. To use less host space, compact the disk instead.',
        );
      }
      const warnings: string[] = [];
      if (size === oldSize) {
        warnings.push(`Disk ${diskId} is already ${bytesWithCount(size)}: nothing changed.`);
      } else {
        await resizeImage(qemuImg, file, info.format, size).catch((err: unknown) => {
          throw translate(file, err);
        });
        await this.options.library.recordDiskSize(vm.config.id, diskId, size);
        const tooBig = sparseDiskWarning(size, await freeSpaceAt(path.dirname(file)));
        if (tooBig) warnings.push(tooBig);
      }
      job.onProgress?.({ phase: 'resize', fraction: 1 });
      return { vmId: vm.config.id, diskId, path: file, oldSizeBytes: oldSize, newSizeBytes: size, warnings };
    });
  }

  compact(vmRef: string, diskIndex: number, job: JobOptions = {}): Promise<DiskCompactResult> {
    return this.onVmDisk(vmRef, diskIndex, 'compacted', async (vm, diskId, file) => {
      job.onProgress?.({ phase: 'check', fraction: 0 });
      const qemuImg = await this.tool();
      const chain = await imageChain(qemuImg, file).catch((err: unknown) => {
        throw translate(file, err);
      });
      const info = chain[0]!;
      if (info.format !== 'qcow2') {
        throw new AppError(
          'UNSUPPORTED',
          `Disk ${diskId} of VM ${label(vm)} is a ${info.format} image; compacting works on qcow2 disks.`,
        );
      }
      const snapshots = (info.snapshots ?? []).map((s) => s.name);
      if (snapshots.length > 0) {
        throw new AppError(
          'UNSUPPORTED',
          `Disk ${diskId} of VM ${label(vm)} holds ${plural(snapshots.length, 'internal snapshot')} ` +
            `(${snapshots.slice(0, 5).join(', ')}${snapshots.length > 5 ? ', …' : ''}). Compacting writes a new copy ` +
            'of the disk, and a copy holds only the current state: the snapshots would be lost. Delete the ' +
            'snapshots you no longer need (maru snapshot VM delete), then compact.',
        );
      }
      const check = await checkImageOf(qemuImg, file, 'qcow2');
      if (check && !check.ok) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `Disk ${diskId} of VM ${label(vm)} has errors (${firstLine(check.output)}); it is left as it is. ` +
            'Repair it (qemu-img check -r all) before compacting.',
        );
      }
      const before = await allocatedBytes(file);
      const need = (await measureImage(qemuImg, file, 'qcow2', 'qcow2')).requiredBytes;
      await this.assertRoom(path.dirname(file), need, `Compacting disk ${diskId} of VM ${label(vm)}`);
      const data = info['format-specific']?.data ?? {};
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.compacting-${randomTag()}`);
      const backing = info['backing-filename'];
      try {
        await convertImage(qemuImg, {
          source: file,
          sourceFormat: 'qcow2',
          target: tmp,
          targetFormat: 'qcow2',
          targetOptions: [
            ...(info['cluster-size'] ? [`cluster_size=${info['cluster-size']}`] : []),
            ...(typeof data['compat'] === 'string' ? [`compat=${data['compat']}`] : []),
          ],
          // An overlay stays one: only what differs from its base is copied, the base is not read into it.
          ...(backing
            ? { backing: { file: backing, format: info['backing-filename-format'] ?? chain[1]?.format ?? 'qcow2' } }
            : {}),
          onProgress: (f) => job.onProgress?.({ phase: 'compact', fraction: f }),
          ...(job.signal ? { signal: job.signal } : {}),
        });
        const after = await allocatedBytes(tmp);
        // Worth a rewrite only when it gives back at least 1 MiB (or 1%): the host file system's
        // own allocation of a just-written file varies by more than a few clusters.
        if (before - after < Math.max(COMPACT_MIN_GAIN_BYTES, before / 100)) {
          await rm(tmp, { force: true });
          return { vmId: vm.config.id, diskId, path: file, bytesBefore: before, bytesAfter: before, replaced: false };
        }
        // The VM must still be off when the copy takes the original's place.
        const now = await this.options.library.show(vm.config.id);
        if (now.state !== 'off') throw notOff(now, 'compacted');
        await chmod(tmp, (await stat(file)).mode & 0o7777);
        await rename(tmp, file);
        await fsyncFolder(path.dirname(file));
        job.onProgress?.({ phase: 'compact', fraction: 1 });
        return { vmId: vm.config.id, diskId, path: file, bytesBefore: before, bytesAfter: after, replaced: true };
      } catch (err) {
        await rm(tmp, { force: true });
        throw translate(file, err);
      }
    });
  }

  // ---- the parts

  private async tool(): Promise<string> {
    const qemuImg = await this.options.qemuImgPath();
    if (!qemuImg) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        "Disk operations need qemu-img, which was not found: install QEMU's tools (Debian/Ubuntu: qemu-utils).",
      );
    }
    return qemuImg;
  }

  /** A source fit to be copied (exclusive access: a VM using it makes it BUSY), or the reason it is not. */
  private async usable(file: string, sourceFormat?: DiskFormat): Promise<Examined> {
    const e = await this.examine(file, { shared: false, ...(sourceFormat ? { format: sourceFormat } : {}) });
    if (e.problem) throw new AppError(e.problem.code, e.problem.message, { path: e.info.path });
    return e;
  }

  /**
   * Reads an image with qemu-img and decides whether it may be imported: the format it holds
   * (its content decides, never its name), sizes, parts, snapshots; then the checks a copy
   * relies on (not an ISO, raw only when the name or the caller says so, not truncated or
   * damaged, every part and backing file present, not in use). `verify: false` skips those
   * checks (for a copy just written).
   */
  private async examine(
    file: string,
    o: { shared: boolean; format?: DiskFormat; verify?: boolean },
  ): Promise<Examined> {
    const abs = path.resolve(file);
    const st = await stat(abs).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new AppError('NOT_FOUND', `The file ${abs} does not exist.`, { path: abs });
      }
      throw new AppError('IO', `Cannot read ${abs}: ${(err as Error).message}`, { path: abs });
    });
    if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `${abs} is not a file.`, { path: abs });
    if (st.size === 0) {
      throw new AppError('INVALID_ARGUMENT', `${abs} is empty (0 bytes): it is not a disk image.`, { path: abs });
    }
    const qemuImg = await this.tool();
    // The content decides the format; a locked image is read shared to say what it is, and marked in use.
    let inUse = false;
    let qemu: QemuImageInfo;
    try {
      qemu = await imageInfo(qemuImg, abs, { shared: false });
    } catch (err) {
      const t = translate(abs, err);
      if (!(t instanceof AppError) || t.code !== 'BUSY') throw t;
      inUse = true;
      qemu = await imageInfo(qemuImg, abs, { shared: true }).catch((again: unknown) => {
        throw translate(abs, again);
      });
    }
    const format = FROM_QEMU[qemu.format];
    if (!format) {
      throw new AppError(
        'UNSUPPORTED',
        `${abs} is a ${qemu.format} image; Maru reads qcow2, raw, VDI, VMDK, VHD and VHDX disks. ` +
          `Convert it first (qemu-img convert -O qcow2 …).`,
        { path: abs },
      );
    }
    const specific = qemu['format-specific'];
    const extents =
      format === 'vmdk' && specific?.type === 'vmdk' && Array.isArray(specific.data['extents'])
        ? (specific.data['extents'] as { filename?: string; format?: string; 'virtual-size'?: number }[])
        : [];
    const parts = extents
      .map((x) => (x.filename ? path.resolve(path.dirname(abs), x.filename) : null))
      .filter((x): x is string => x !== null && x !== abs);
    const info: DiskImageInfo = {
      path: abs,
      format,
      subformat:
        format === 'vmdk' && typeof specific?.data['create-type'] === 'string' ? specific.data['create-type'] : null,
      virtualSizeBytes: qemu['virtual-size'],
      actualSizeBytes: qemu['actual-size'] ?? (await allocatedBytes(abs)),
      backingFile: qemu['backing-filename'] ?? null,
      snapshots: (qemu.snapshots ?? []).map((s) => s.name),
      files: [abs, ...parts],
      importProblem: null,
    };
    let problem: Problem | null = null;
    // A copy Maru has just written: its figures, not the checks a source goes through.
    if (o.verify === false) return { info, qemu, problem };
    if (o.format && o.format !== format && !(o.format === 'raw' && format !== 'raw')) {
      // Asked for a format the content does not have (raw asked of a structured image: see below).
      problem = {
        code: 'INVALID_ARGUMENT',
        message:
          format === 'raw'
            ? `${abs} is not a ${DISK_FORMAT_LABEL[o.format]} image: it has no ${DISK_FORMAT_LABEL[o.format]} header (it is damaged, or not a disk image).`
            : `${abs} is a ${DISK_FORMAT_LABEL[format]} image, not ${DISK_FORMAT_LABEL[o.format]}: import it without naming a format.`,
      };
    } else if (o.format === 'raw' && format !== 'raw') {
      problem = {
        code: 'INVALID_ARGUMENT',
        message: `${abs} is a ${DISK_FORMAT_LABEL[format]} image, not a raw one: copying its bytes as a raw disk would give the guest ${DISK_FORMAT_LABEL[format]} metadata instead of its disk. Import it without naming a format.`,
      };
    } else if (inUse) {
      problem = {
        code: 'BUSY',
        message: `${abs} is in use by another program (a running VM?); stop it, then try again.`,
      };
    } else if (qemu.encrypted) {
      problem = { code: 'UNSUPPORTED', message: `${abs} is encrypted; Maru does not import encrypted images.` };
    } else if (format === 'raw') {
      problem = await rawProblem(abs, st.size, o.format === 'raw');
    } else {
      problem = await this.wholeness(qemuImg, abs, format, extents);
    }
    if (!problem && info.backingFile) {
      await imageChain(qemuImg, abs, { shared: o.shared }).catch((err: unknown) => {
        problem = {
          code: 'NOT_FOUND',
          message: `${abs} is an overlay on ${info.backingFile}, which cannot be opened (${firstLine(
            String((err as AppError).details?.['stderr'] ?? (err as Error).message),
          )}). Put the backing file back where the overlay names it.`,
        };
      });
    }
    return { info: { ...info, importProblem: problem?.message ?? null }, qemu, problem };
  }

  /** Whether a structured image is whole: qemu-img check, plus the truncations it does not see. */
  private async wholeness(
    qemuImg: string,
    abs: string,
    format: DiskFormat,
    extents: readonly { filename?: string; format?: string; 'virtual-size'?: number }[],
  ): Promise<Problem | null> {
    const cut = (what: string): Problem => ({
      code: 'INVALID_ARGUMENT',
      message: `${abs} is truncated: ${what}. A copy cut short cannot be read whole; copy it again from where it came from.`,
    });
    if (format === 'vdi') {
      const layout = await readVdiLayout(abs);
      if (layout && layout.neededBytes > layout.fileBytes) {
        return cut(
          `its ${plural(layout.usedBlocks, 'block')} of ${formatBytes(layout.blockBytes)} need ` +
            `${bytesWithCount(layout.neededBytes)} but the file has ${bytesWithCount(layout.fileBytes)}`,
        );
      }
    }
    for (const x of extents) {
      // Flat extents are raw data: nothing to check but their length.
      if (x.format !== 'FLAT' || !x.filename || typeof x['virtual-size'] !== 'number') continue;
      const part = path.resolve(path.dirname(abs), x.filename);
      const size = (await stat(part)).size;
      if (size < x['virtual-size']) {
        return cut(`its part ${part} holds ${bytesWithCount(size)} of ${bytesWithCount(x['virtual-size'])}`);
      }
    }
    if (!CHECKABLE.has(format)) return null;
    const check = await checkImageOf(qemuImg, abs, QEMU_FORMAT[format]);
    if (!check || check.ok) return null;
    const why = firstLine(check.output);
    return {
      code: 'INVALID_ARGUMENT',
      message:
        `${abs} is damaged or truncated: qemu-img check found ` +
        `${check.corruptions > 0 ? plural(check.corruptions, 'error') : 'errors'}${why ? ` (${why})` : ''}. ` +
        'It was not changed. Copy it again from where it came from, or repair a copy of it (qemu-img check -r all) ' +
        'and import that.',
    };
  }

  /** Writes `target` (which must not exist) from `source` through a temporary file beside it. */
  private async writeCopy(
    source: Examined,
    target: string,
    targetFormat: DiskFormat,
    phase: string,
    job: JobOptions,
  ): Promise<void> {
    const qemuImg = await this.tool();
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${phase}-${randomTag()}`);
    try {
      await convertImage(qemuImg, {
        source: source.info.path,
        sourceFormat: source.qemu.format,
        target: tmp,
        targetFormat: QEMU_FORMAT[targetFormat],
        targetOptions: TARGET_OPTIONS[targetFormat],
        onProgress: (f) => job.onProgress?.({ phase, fraction: f }),
        ...(job.signal ? { signal: job.signal } : {}),
      });
      if (job.signal?.aborted) throw new CancelledError('The conversion was cancelled.');
      await publish(tmp, target);
      job.onProgress?.({ phase, fraction: 1 });
    } catch (err) {
      await rm(tmp, { force: true });
      throw translate(source.info.path, err);
    }
  }

  /** Refuses (HOST_LIMIT, with both figures) when `folder`'s host disk has less than `need` free. */
  private async assertRoom(folder: string, need: number, what: string): Promise<void> {
    const free = await freeSpaceAt(folder);
    if (free && need > free.freeBytes) {
      throw new AppError(
        'HOST_LIMIT',
        `${what} needs about ${bytesWithCount(need)} in ${folder}, but only ${bytesWithCount(free.freeBytes)} ` +
          'are free there. Nothing was written. Free some space, or write it elsewhere.',
        { needBytes: need, freeBytes: free.freeBytes },
      );
    }
  }

  /** Runs `fn` on disk `diskIndex` of a powered-off VM, one disk operation per VM at a time. */
  private async onVmDisk<T>(
    vmRef: string,
    diskIndex: number,
    what: string,
    fn: (vm: VmDetails, diskId: string, file: string) => Promise<T>,
  ): Promise<T> {
    let vm = await this.options.library.show(vmRef);
    const id = vm.config.id;
    const running = this.busy.get(id);
    if (running) {
      throw new AppError('BUSY', `A disk of VM ${label(vm)} is being ${running} already; wait for it to finish.`);
    }
    this.busy.set(id, what);
    try {
      // A dead engine host may have left its QEMU holding the images: end it first.
      if (vm.state === 'aborted') {
        await this.options.releaseAbandoned(id);
        vm = await this.options.library.show(id);
      }
      if (vm.state !== 'off' && vm.state !== 'aborted') throw notOff(vm, what);
      const disk = vm.disks[diskIndex];
      if (!disk) {
        const n = vm.disks.length;
        throw new AppError(
          'NOT_FOUND',
          n === 0
            ? `VM ${label(vm)} has no disk.`
            : `VM ${label(vm)} has ${plural(n, 'disk')}: disk ${diskIndex} does not exist (use 0${n > 1 ? `–${n - 1}` : ''}).`,
        );
      }
      if (!disk.exists)
        throw new AppError('NOT_FOUND', `Disk ${disk.id} of VM ${label(vm)} is missing (${disk.path}).`);
      return await fn(vm, disk.id, disk.path);
    } finally {
      this.busy.delete(id);
      this.options.onDidChangeVm(id);
    }
  }
}

function notOff(vm: VmDetails, what: string): AppError {
  return new AppError(
    'BUSY',
    vm.state === 'saved'
      ? `VM ${label(vm)} has a saved state, which holds its disks as they are: a disk cannot be ${what} now. ` +
          'Start it and shut it down, or discard the saved state, first.'
      : `VM ${label(vm)} is ${vm.state}; a disk can be ${what} only while its VM is off. Shut it down first.`,
  );
}

/** Why a file qemu-img sees as raw bytes should not be imported as a disk (null: it may). */
async function rawProblem(abs: string, size: number, saidRaw: boolean): Promise<Problem | null> {
  const fh = await open(abs, 'r');
  let iso = false;
  try {
    const magic = Buffer.alloc(5);
    const { bytesRead } = await fh.read(magic, 0, 5, ISO_MAGIC_OFFSET);
    iso = bytesRead === 5 && magic.toString('latin1') === 'CD001';
  } finally {
    await fh.close();
  }
  if (iso) {
    return {
      code: 'INVALID_ARGUMENT',
      message: `${abs} is a CD/DVD image (ISO 9660), not a hard disk. Attach it as a CD instead (maru attach-iso VM FILE, or --iso when creating a VM).`,
    };
  }
  if (saidRaw) return null;
  const ext = path.extname(abs).toLowerCase();
  const claimed = (Object.keys(EXTENSIONS) as DiskFormat[]).find((f) => f !== 'raw' && EXTENSIONS[f].includes(ext));
  if (claimed) {
    return {
      code: 'INVALID_ARGUMENT',
      message: `${abs} is named like a ${DISK_FORMAT_LABEL[claimed]} image, but it has no ${DISK_FORMAT_LABEL[claimed]} header: it is damaged or not a disk image.`,
    };
  }
  if (!EXTENSIONS.raw.includes(ext)) {
    return {
      code: 'INVALID_ARGUMENT',
      message:
        `${abs} has no disk image format qemu-img knows (it would be read as raw bytes), and its name does not ` +
        'end in .img, .raw or .bin. If it is a raw disk image, import it with the source format raw.',
    };
  }
  if (size % SECTOR !== 0) {
    return {
      code: 'INVALID_ARGUMENT',
      message: `${abs} is ${size} bytes, not a whole number of 512-byte sectors: it is not a raw disk image (or it was cut short). If it is one, import it with the source format raw.`,
    };
  }
  return null;
}

/** What a copy leaves behind that the user should know. */
function copyWarnings(source: DiskImageInfo): string[] {
  const w: string[] = [];
  if (source.snapshots.length > 0) {
    w.push(
      `${source.path} holds ${plural(source.snapshots.length, 'internal snapshot')} ` +
        `(${source.snapshots.join(', ')}); the copy has only its current state.`,
    );
  }
  if (source.backingFile) {
    w.push(`${source.path} is an overlay on ${source.backingFile}; the copy holds both merged and needs neither.`);
  }
  return w;
}

/** The source's file name without its extension, made a safe disk name. */
function defaultName(file: string): string {
  const stem = path
    .basename(file, path.extname(file))
    .replace(/[^\p{L}\p{N} ._+-]/gu, '-')
    .replace(/^\.+/, '');
  return stem || 'imported';
}

/** The new disk's file name: `<name>.qcow2`. */
function importName(name: string): string {
  return /\.qcow2$/i.test(name) ? name : `${name}.qcow2`;
}
