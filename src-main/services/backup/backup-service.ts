// The `backup` control service: a VM exported to one archive (tar: manifest first, the VM
// folder's files, SHA256SUMS last) and imported back — verified into a staging folder before
// the library registers anything, with a new uuid when the old one is taken — or restored over
// an existing VM in one swap. Format and decisions: docs/backup.md.
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { version as MARU_VERSION } from '../../../package.json';
import type {
  BackupExportResult,
  BackupImportOptions,
  BackupImportResult,
  BackupService,
} from '../../../src-shared/contracts/backup';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmDetails } from '../../../src-shared/contracts/library';
import { AppError, CancelledError } from '../../../src-shared/errors';
import { formatBytes } from '../../../src-shared/format-bytes';
import { isUuid } from '../../../src-shared/ids';
import { CURRENT_SCHEMA_VERSION, vmNameProblem } from '../../../src-shared/vm-config';
import { fsyncFolder } from '../../../src-node/atomic-file';
import { createNewFile, pathExists } from '../../../src-node/file-presence';
import { SAVED_STATE_MARKER_FILE } from '../../../src-node/run-folder';
import { readQcow2Info } from '../../../src-emulator/disk/qcow2-create';
import { relinkImage } from '../../../src-emulator/engines/qemu/qemu-img';
import { freeSpaceAt } from '../disks/free-space';
import type { Library } from '../library/library-service';
import { parseVmRecord, powerStateOf, VM_CONFIG_FILE } from '../library/vm-store';
import { backupsFolder, vmFolder, vmsFolder } from '../maru-home';
import type { Snapshots } from '../snapshots/snapshot-service';
import type { VmRuntime } from '../vm-runtime/vm-runtime';
import { ArchiveReader, pump, sha256, type ArchiveEntry } from './archive-io';
import { TAR_END, tarHeader, tarPadding, unsafeEntryPath } from './tar';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_FORMAT_VERSION,
  CHECKSUMS_FILE,
  MANIFEST_FILE,
  MANIFEST_MAX_BYTES,
  formatChecksums,
  parseChecksums,
  parseManifest,
  type ArchiveFile,
  type ArchiveManifest,
  type ArchiveRelink,
} from './vm-archive';

export interface BackupServiceOptions {
  readonly maruHome: string;
  readonly library: Library;
  readonly snapshots: Snapshots;
  readonly runtime: VmRuntime;
  /** qemu-img: only needed to import a linked clone (its base is re-linked). */
  readonly qemuImgPath: () => Promise<string | null>;
  /** A VM's files were replaced (its snapshot tree may differ). */
  readonly onDidReplace?: (vmId: string) => void;
}

/** What the VM folder holds that an archive leaves out: logs, run markers, journals, temp files. */
const SKIPPED_TOP = new Set(['logs', 'aborted', 'snapshots.journal.json']);
const isTempName = (name: string): boolean => /^\..*\.(tmp|partial)$/.test(name);
/** JSON files in the VM folder whose ids and paths name the VM (rewritten on import). */
const JSON_FILES = [VM_CONFIG_FILE, 'snapshots.json', SAVED_STATE_MARKER_FILE];

interface PlannedFile extends ArchiveFile {
  /** Where it is read from (absolute). */
  readonly source: string;
  readonly mtime: number;
}

interface ExportPlan {
  readonly files: readonly PlannedFile[];
  readonly relink: readonly ArchiveRelink[];
  readonly warnings: readonly string[];
}

function label(vm: VmDetails): string {
  return JSON.stringify(vm.config.name);
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function localMinute(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Calls `report` at most every 100 ms (and always at the end) with the fraction of `total` done. */
function byteProgress(job: JobOptions, phase: string, total: number): { add(n: number): void; end(): void } {
  let done = 0;
  let last = 0;
  return {
    add(n) {
      done += n;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        job.onProgress?.({ phase, fraction: total > 0 ? Math.min(1, done / total) : 1 });
      }
    },
    end() {
      job.onProgress?.({ phase, fraction: 1 });
    },
  };
}

/** Maps every string in a JSON value (ids and paths of the VM's old place to its new one). */
function mapStrings(value: unknown, map: (s: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, map));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]));
  }
  return value;
}

export class Backups implements BackupService {
  /** VMs being exported or replaced here (they may not start meanwhile). */
  private readonly busy = new Map<string, string>();

  constructor(private readonly options: BackupServiceOptions) {}

  /** Refuses to start a VM while it is being exported or replaced (the runtime's beforeStart). */
  async assertIdle(vmRef: string): Promise<void> {
    if (this.busy.size === 0) return;
    const vm = await this.options.library.show(vmRef).catch(() => null);
    const what = vm ? this.busy.get(vm.config.id) : undefined;
    if (vm && what) {
      throw new AppError('BUSY', `VM ${label(vm)} cannot start while it is being ${what}; wait for it to finish.`);
    }
  }

  // ---- export

  async export(vmRef: string, targetPath: string, job: JobOptions = {}): Promise<BackupExportResult> {
    const started = Date.now();
    const { library, snapshots, runtime } = this.options;
    const target = path.resolve(targetPath);
    let vm = await library.show(vmRef);
    const id = vm.config.id;
    await this.checkTarget(target);
    this.claim(vm, 'exported');
    let resume = false;
    const warnings: string[] = [];
    let liveSnapshot: BackupExportResult['liveSnapshot'] = null;
    try {
      if (vm.state === 'aborted') await runtime.releaseAbandoned(id);
      // Finishes or undoes what an interrupted snapshot operation left (snapshots.journal.json).
      await snapshots.list(id);
      vm = await library.show(id);
      if (vm.state === 'running' || vm.state === 'paused') {
        job.onProgress?.({ phase: 'snapshot', fraction: 0 });
        const snap = await snapshots.take(id, {
          name: `Export ${localMinute()}`,
          description: `Taken by Maru to export the running VM to ${path.basename(target)}.`,
        });
        liveSnapshot = { id: snap.id, name: snap.name };
        // Paused, QEMU has flushed its images: the files read next are whole, not mid-write.
        if (vm.state === 'running') {
          await runtime.pause(id);
          resume = true;
        }
        warnings.push(
          `The VM was running: live snapshot ${JSON.stringify(snap.name)} was taken first and the VM was paused while ` +
            'its files were read. After an import, restore that snapshot to continue where it was.',
        );
        vm = await library.show(id);
      }
      if (job.signal?.aborted) throw new CancelledError('Exporting the VM was cancelled.');
      const plan = await this.plan(vm);
      warnings.push(...plan.warnings);
      const total = plan.files.reduce((n, f) => n + f.size, 0);
      const free = await freeSpaceAt(path.dirname(target));
      if (free && free.freeBytes < total) {
        throw new AppError(
          'HOST_LIMIT',
          `The archive needs about ${formatBytes(total)}, but only ${formatBytes(free.freeBytes)} is free on the disk ` +
            `holding ${path.dirname(target)}. Nothing was written; free some space or choose another place.`,
        );
      }
      const manifest: ArchiveManifest = {
        format: ARCHIVE_FORMAT,
        formatVersion: ARCHIVE_FORMAT_VERSION,
        maruVersion: MARU_VERSION,
        createdAt: new Date().toISOString(),
        vm: { id, name: vm.config.name, schemaVersion: vm.config.schemaVersion },
        sourceFolder: vm.folder,
        state: vm.state === 'saved' ? 'saved' : 'off',
        liveSnapshot,
        files: plan.files.map(({ path: p, type, size, mode }) => ({ path: p, type, size, mode })),
        relink: plan.relink,
        checksums: CHECKSUMS_FILE,
      };
      const bytes = await this.writeArchive(target, manifest, plan.files, byteProgress(job, 'export', total), job);
      return {
        path: target,
        vmId: id,
        vmName: vm.config.name,
        bytes,
        files: plan.files.filter((f) => f.type === 'file').length,
        seconds: (Date.now() - started) / 1000,
        liveSnapshot,
        warnings,
      };
    } finally {
      if (resume) {
        await runtime.resume(id).catch((err: unknown) => {
          warnings.push(`The VM could not be resumed after the export (${String((err as Error).message)}); resume it.`);
        });
      }
      this.busy.delete(id);
    }
  }

  private async checkTarget(target: string): Promise<void> {
    if (await pathExists(target)) {
      throw new AppError(
        'ALREADY_EXISTS',
        `${target} already exists; an export never replaces a file. Choose another name, or remove that file first.`,
      );
    }
    // The library's own backups folder is made on demand (the web console may write only there).
    if (path.dirname(target) === backupsFolder(this.options.maruHome)) {
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    }
    const folder = await stat(path.dirname(target)).catch(() => null);
    if (!folder?.isDirectory()) {
      throw new AppError(
        'NOT_FOUND',
        `The folder ${path.dirname(target)} does not exist; create it or choose another.`,
      );
    }
  }

  private claim(vm: VmDetails, what: string): void {
    const doing = this.busy.get(vm.config.id);
    if (doing) throw new AppError('BUSY', `VM ${label(vm)} is being ${doing} already; wait for it to finish.`);
    this.busy.set(vm.config.id, what);
  }

  /** The files of the VM folder, in archive order (vm.json first), and the bases of linked disks. */
  private async plan(vm: VmDetails): Promise<ExportPlan> {
    const folder = vm.folder;
    for (const d of vm.config.disks) {
      const file = path.resolve(folder, d.file);
      if (!inside(folder, file)) {
        throw new AppError(
          'UNSUPPORTED',
          `Disk ${d.id} of VM ${label(vm)} is attached from outside its folder (${file}); an archive holds the VM's ` +
            'own files only. Detach that disk (and back it up on its own), or copy it into the VM, then export again.',
        );
      }
    }
    const files: PlannedFile[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const e of entries) {
        if ((rel === '' && SKIPPED_TOP.has(e.name)) || isTempName(e.name)) continue;
        const abs = path.join(dir, e.name);
        const relPath = rel ? `${rel}/${e.name}` : e.name;
        const st = await lstat(abs);
        if (st.isDirectory()) {
          files.push({
            path: relPath,
            type: 'folder',
            size: 0,
            mode: st.mode & 0o777,
            source: abs,
            mtime: st.mtimeMs / 1000,
          });
          await walk(abs, relPath);
        } else if (st.isFile()) {
          files.push({
            path: relPath,
            type: 'file',
            size: st.size,
            mode: st.mode & 0o777,
            source: abs,
            mtime: st.mtimeMs / 1000,
          });
        } else {
          throw new AppError(
            'UNSUPPORTED',
            `${abs} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; an archive holds plain files ` +
              'only. Replace it with the file itself (or remove it), then export again.',
          );
        }
      }
    };
    await walk(folder, '');
    files.sort((a, b) => (a.path === VM_CONFIG_FILE ? -1 : b.path === VM_CONFIG_FILE ? 1 : 0));
    const relink: ArchiveRelink[] = [];
    const warnings: string[] = [];
    // Backing files outside the folder (a linked clone's base, and the bases under it) come along.
    const taken = new Set(files.map((f) => f.path));
    const queue = files.filter((f) => f.type === 'file' && f.path.endsWith('.qcow2'));
    const carried = new Map<string, string>();
    while (queue.length > 0) {
      const image = queue.shift()!;
      const backing = await readQcow2Info(image.source).then(
        (i) => i.backingFile,
        () => null, // not a qcow2 image after all: nothing to follow
      );
      if (backing === null) continue;
      const base = path.resolve(path.dirname(image.source), backing);
      if (inside(folder, base)) continue;
      const dir = path.posix.dirname(image.path);
      let at = carried.get(base);
      if (at === undefined) {
        const parsed = path.parse(base);
        let name = parsed.base;
        for (let n = 2; taken.has(`${dir}/${name}`); n++) name = `${parsed.name}-${n}${parsed.ext}`;
        at = `${dir}/${name}`;
        taken.add(at);
        carried.set(base, at);
        const st = await stat(base).catch(() => null);
        if (!st?.isFile()) {
          throw new AppError(
            'NOT_FOUND',
            `The base disk ${base} that ${image.source} reads from is missing; the VM cannot be exported whole.`,
          );
        }
        const planned: PlannedFile = {
          path: at,
          type: 'file',
          size: st.size,
          mode: st.mode & 0o777,
          source: base,
          mtime: st.mtimeMs / 1000,
        };
        files.push(planned);
        queue.push(planned);
        warnings.push(
          `${image.path} is a linked clone's disk: its base ${base} is in the archive too, so the imported VM stands on its own.`,
        );
      }
      relink.push({ path: image.path, backing: path.posix.relative(dir, at) });
    }
    warnings.push(...(await this.referencedOutside(folder)));
    return { files, relink, warnings };
  }

  /** Files vm.json names outside the VM folder (ISO and floppy images): referenced, not carried. */
  private async referencedOutside(folder: string): Promise<string[]> {
    const raw = JSON.parse(await readFile(path.join(folder, VM_CONFIG_FILE), 'utf8')) as unknown;
    const out: string[] = [];
    mapStrings(raw, (s) => {
      if (path.isAbsolute(s) && !inside(folder, s) && !out.includes(s)) out.push(s);
      return s;
    });
    return out.map(
      (p) => `${p} is not in the archive: the VM refers to it (installation media or an image outside its folder).`,
    );
  }

  /** Streams the archive into a hidden partial file next to `target`, then gives it its name. */
  private async writeArchive(
    target: string,
    manifest: ArchiveManifest,
    files: readonly PlannedFile[],
    progress: { add(n: number): void; end(): void },
    job: JobOptions,
  ): Promise<number> {
    const partial = path.join(
      path.dirname(target),
      `.${path.basename(target)}.${randomBytes(4).toString('hex')}.partial`,
    );
    const out = await createNewFile(partial, 'a partial export of that name is in the way; remove it.');
    let position = 0;
    const put = async (buf: Buffer): Promise<void> => {
      await out.write(buf, 0, buf.length, position);
      position += buf.length;
    };
    const now = Date.now() / 1000;
    let closed = false;
    try {
      const sums = new Map<string, string>();
      const manifestText = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
      sums.set(MANIFEST_FILE, sha256(manifestText));
      await put(tarHeader({ path: MANIFEST_FILE, type: 'file', size: manifestText.length, mode: 0o644, mtime: now }));
      await put(Buffer.concat([manifestText, Buffer.alloc(tarPadding(manifestText.length))]));
      for (const f of files) {
        await put(tarHeader({ path: f.path, type: f.type, size: f.size, mode: f.mode, mtime: f.mtime }));
        if (f.type === 'folder') continue;
        const hash = createHash('sha256');
        const src = await open(f.source, 'r');
        try {
          await pump({
            from: src,
            fromPosition: 0,
            to: out,
            toPosition: position,
            size: f.size,
            hash,
            signal: job.signal,
            onBytes: (n) => progress.add(n),
            what: 'Exporting the VM',
            short: (got) =>
              new AppError(
                'IO',
                `${f.source} shrank to ${got} bytes while it was being exported (it had ${f.size}): something ` +
                  'changed the VM meanwhile. Nothing was kept; export again once the VM is left alone.',
              ),
          });
        } finally {
          await src.close();
        }
        position += f.size;
        await put(Buffer.alloc(tarPadding(f.size)));
        sums.set(f.path, hash.digest('hex'));
      }
      const sumsText = Buffer.from(formatChecksums(sums), 'utf8');
      await put(tarHeader({ path: CHECKSUMS_FILE, type: 'file', size: sumsText.length, mode: 0o644, mtime: now }));
      await put(Buffer.concat([sumsText, Buffer.alloc(tarPadding(sumsText.length)), TAR_END]));
      await out.sync();
      await out.close();
      closed = true;
      await giveName(partial, target);
      await fsyncFolder(path.dirname(target));
      progress.end();
      return position;
    } catch (err) {
      if (!closed) await out.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw err;
    }
  }

  // ---- import

  async import(archivePath: string, options: BackupImportOptions, job: JobOptions = {}): Promise<BackupImportResult> {
    const started = Date.now();
    const { library, maruHome } = this.options;
    const archive = path.resolve(archivePath);
    let fh;
    try {
      fh = await open(archive, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new AppError('NOT_FOUND', `There is no file ${archive}.`);
      throw new AppError('IO', `Cannot read ${archive}: ${(err as Error).message}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `${archive} is not a file.`);
      const reader = new ArchiveReader(fh, archive, st.size);
      job.onProgress?.({ phase: 'check', fraction: 0 });
      const { manifest, text } = await this.readManifest(reader, archive);
      const warnings: string[] = [];

      // Where it goes: over a VM, under its own uuid, or under a new one when that is taken.
      let replaced: { id: string; name: string | undefined } | null = null;
      if (options.replace !== undefined) {
        replaced = await this.replaceable(options.replace);
      }
      const archiveId = manifest.vm.id;
      let targetId: string;
      if (replaced) targetId = replaced.id;
      else if (isUuid(archiveId) && !(await pathExists(vmFolder(maruHome, archiveId)))) targetId = archiveId;
      else {
        targetId = randomUUID();
        warnings.push(
          `A VM with the archive's uuid ${archiveId} exists here: the imported VM has the new uuid ${targetId}.`,
        );
      }
      const name = await this.chooseName(manifest, options, replaced, warnings);

      const total = manifest.files.reduce((n, f) => n + f.size, 0);
      const free = await freeSpaceAt(vmsFolder(maruHome));
      if (free && free.freeBytes < total) {
        throw new AppError(
          'HOST_LIMIT',
          `The VM in ${archive} needs ${formatBytes(total)}, but only ${formatBytes(free.freeBytes)} is free on the ` +
            `disk holding ${vmsFolder(maruHome)}. Nothing was imported; free some space first.`,
        );
      }
      if (manifest.relink.length > 0 && !(await this.options.qemuImgPath())) {
        throw new AppError(
          'MISSING_DEPENDENCY',
          "This archive holds a linked clone; re-linking its disks to their base needs qemu-img. Install QEMU's tools " +
            '(Debian: qemu-utils), then import again.',
        );
      }

      if (replaced) this.busy.set(replaced.id, 'replaced');
      try {
        const staging = await library.makeStaging(targetId);
        try {
          await this.extract(reader, fh, archive, manifest, text, staging, byteProgress(job, 'import', total), job);
          job.onProgress?.({ phase: 'register', fraction: 0 });
          const folder = vmFolder(maruHome, targetId);
          await this.rewriteJson(staging, manifest, { id: targetId, folder, name });
          const text2 = await readFile(path.join(staging, VM_CONFIG_FILE), 'utf8');
          // The library's own read path: migration of an older schema, disk locations.
          const record = parseVmRecord(maruHome, targetId, { text: text2 });
          if (record.kind === 'inaccessible') {
            throw new AppError(
              'INVALID_ARGUMENT',
              `The VM in ${archive} cannot be used: ${record.error} Nothing was imported.`,
            );
          }
          await this.relink(staging, manifest.relink);
          if (replaced) {
            if (job.signal?.aborted) throw new CancelledError('Importing the VM was cancelled.');
            await library.commitReplacing(staging, record.config);
            this.options.onDidReplace?.(targetId);
          } else {
            await library.commit(staging, record.config);
          }
        } catch (err) {
          await library.removeStaging(staging, err);
          throw err;
        }
      } finally {
        if (replaced) this.busy.delete(replaced.id);
      }
      job.onProgress?.({ phase: 'register', fraction: 1 });
      return {
        vmId: targetId,
        name,
        archiveVmId: archiveId,
        madeBy: manifest.maruVersion,
        bytes: st.size,
        files: manifest.files.filter((f) => f.type === 'file').length,
        seconds: (Date.now() - started) / 1000,
        replaced: replaced?.id ?? null,
        warnings,
      };
    } finally {
      await fh.close();
    }
  }

  private async readManifest(
    reader: ArchiveReader,
    archive: string,
  ): Promise<{ manifest: ArchiveManifest; text: Buffer }> {
    const notOurs = (why: string) =>
      new AppError(
        'INVALID_ARGUMENT',
        `${archive} is not a Maru VM archive: ${why}. Maru imports the .maru files that "maru export" and Export… write.`,
      );
    let first: ArchiveEntry | null;
    try {
      first = await reader.next();
    } catch (err) {
      // Not tar at all (or damaged in its very first block).
      if (err instanceof AppError) throw notOurs(`it does not start with a tar header (${err.message})`);
      throw err;
    }
    if (first === null || first.path !== MANIFEST_FILE || first.type !== 'file') {
      throw notOurs(`it does not start with ${MANIFEST_FILE}`);
    }
    if (first.size > MANIFEST_MAX_BYTES)
      throw notOurs(`its ${MANIFEST_FILE} is ${first.size} bytes, too large to be one`);
    const text = await reader.readBody(first);
    const manifest = parseManifest(archive, text.toString('utf8'), MARU_VERSION);
    if (manifest.vm.schemaVersion > CURRENT_SCHEMA_VERSION) {
      throw new AppError(
        'UNSUPPORTED',
        `${archive} was made by Maru ${manifest.maruVersion}, which is newer: its VM settings are version ` +
          `${manifest.vm.schemaVersion}, and this Maru ${MARU_VERSION} reads up to ${CURRENT_SCHEMA_VERSION}. Update Maru, then import it again.`,
      );
    }
    return { manifest, text };
  }

  /** The VM `ref` names, when it may be replaced: found (inaccessible is fine) and not running. */
  private async replaceable(ref: string): Promise<{ id: string; name: string | undefined }> {
    let found: { id: string; name: string | undefined };
    try {
      const vm = await this.options.library.show(ref);
      found = { id: vm.config.id, name: vm.config.name };
    } catch (err) {
      // A broken VM (vm.json unreadable) is exactly what a restore is for.
      const id = err instanceof AppError && err.code === 'INACCESSIBLE' ? err.details?.['id'] : undefined;
      if (typeof id !== 'string') throw err;
      found = { id, name: undefined };
    }
    const state = await powerStateOf(this.options.maruHome, found.id);
    const shown = found.name ? JSON.stringify(found.name) : found.id;
    if (state === 'running' || state === 'paused') {
      throw new AppError('BUSY', `VM ${shown} is ${state}; stop it before restoring a backup over it.`);
    }
    const doing = this.busy.get(found.id);
    if (doing) throw new AppError('BUSY', `VM ${shown} is being ${doing}; wait for it to finish.`);
    return found;
  }

  private async chooseName(
    manifest: ArchiveManifest,
    options: BackupImportOptions,
    replaced: { id: string; name: string | undefined } | null,
    warnings: string[],
  ): Promise<string> {
    const wanted = options.name ?? replaced?.name ?? manifest.vm.name;
    const problem = vmNameProblem(wanted);
    if (problem) throw new AppError('INVALID_ARGUMENT', `${JSON.stringify(wanted)} cannot be a VM name. ${problem}`);
    const taken = new Map<string, string>();
    for (const v of await this.options.library.list()) {
      if (v.kind === 'ok' && v.id !== replaced?.id) taken.set(v.name.normalize('NFC').toLowerCase(), v.name);
    }
    const key = (n: string) => n.normalize('NFC').toLowerCase();
    if (!taken.has(key(wanted))) return wanted;
    if (options.name !== undefined || replaced) {
      throw new AppError(
        'ALREADY_EXISTS',
        `A VM named ${JSON.stringify(taken.get(key(wanted)))} already exists; choose another name (--name).`,
      );
    }
    let n = 2;
    let name = `${wanted} (${n})`;
    while (taken.has(key(name))) name = `${wanted} (${++n})`;
    warnings.push(
      `A VM named ${JSON.stringify(wanted)} exists here: the imported VM is named ${JSON.stringify(name)}.`,
    );
    return name;
  }

  /** Extracts every listed entry into `staging`, hashing as it goes, then checks SHA256SUMS. */
  private async extract(
    reader: ArchiveReader,
    archiveFile: FileHandle,
    archive: string,
    manifest: ArchiveManifest,
    manifestText: Buffer,
    staging: string,
    progress: { add(n: number): void; end(): void },
    job: JobOptions,
  ): Promise<void> {
    const damaged = (why: string) =>
      new AppError('INVALID_ARGUMENT', `${archive} is damaged: ${why}. Nothing was imported.`);
    const sums = new Map<string, string>([[MANIFEST_FILE, sha256(manifestText)]]);
    for (const f of manifest.files) {
      const e = await reader.next();
      if (e === null) throw reader.truncated(`it ends before ${f.path}`);
      if (e.path !== f.path || e.type !== f.type || e.size !== f.size) {
        throw damaged(
          `its manifest lists ${f.path} (${f.type}, ${f.size} bytes) but the archive holds ${e.path} (${e.type}, ${e.size} bytes) there`,
        );
      }
      if (unsafeEntryPath(e.path)) throw damaged(`it holds an unsafe name, ${JSON.stringify(e.path)}`);
      const dest = path.join(staging, ...e.path.split('/'));
      if (e.type === 'folder') {
        await mkdir(dest, { recursive: true, mode: f.mode | 0o700 });
        continue;
      }
      await mkdir(path.dirname(dest), { recursive: true });
      const out = await open(dest, 'wx', f.mode | 0o600);
      const hash = createHash('sha256');
      try {
        await pump({
          from: archiveFile,
          fromPosition: e.bodyPosition,
          to: out,
          toPosition: 0,
          size: e.size,
          hash,
          sparse: true,
          signal: job.signal,
          onBytes: (n) => progress.add(n),
          what: 'Importing the VM',
          short: () => reader.truncated(`${e.path} ends early`),
        });
        await out.truncate(e.size);
        await out.datasync();
      } finally {
        await out.close();
      }
      sums.set(e.path, hash.digest('hex'));
    }
    const last = await reader.next();
    if (last === null || last.path !== CHECKSUMS_FILE) {
      throw last === null
        ? reader.truncated(`its ${CHECKSUMS_FILE} list is missing`)
        : damaged(`it holds ${last.path} where ${CHECKSUMS_FILE} belongs`);
    }
    if (last.size > MANIFEST_MAX_BYTES) throw damaged(`its ${CHECKSUMS_FILE} is too large`);
    const listed = parseChecksums((await reader.readBody(last)).toString('utf8'));
    if (listed === null) throw damaged(`its ${CHECKSUMS_FILE} list is not readable`);
    for (const [p, hex] of sums) {
      const want = listed.get(p);
      if (want === undefined) throw damaged(`${CHECKSUMS_FILE} has no checksum for ${p}`);
      if (want !== hex) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `${p} in ${archive} does not match its SHA-256 checksum: the archive was changed or damaged after it was ` +
            'written. Nothing was imported. Use another copy of the backup.',
          { file: p },
        );
      }
    }
    if (listed.size !== sums.size) throw damaged(`${CHECKSUMS_FILE} lists files the archive does not hold`);
    if ((await reader.next()) !== null) throw damaged('it goes on after its checksum list');
    progress.end();
  }

  /** Gives the VM its id, name and folder in vm.json, snapshots.json and the saved-state marker. */
  private async rewriteJson(
    staging: string,
    manifest: ArchiveManifest,
    to: { id: string; folder: string; name: string },
  ): Promise<void> {
    const from = manifest.sourceFolder;
    const map = (s: string): string => {
      if (s === manifest.vm.id) return to.id;
      if (s === from) return to.folder;
      if (s.startsWith(from + '/') || s.startsWith(from + path.sep)) return to.folder + s.slice(from.length);
      return s;
    };
    for (const name of JSON_FILES) {
      const file = path.join(staging, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        if (name === VM_CONFIG_FILE) {
          throw new AppError(
            'INVALID_ARGUMENT',
            `The vm.json in the archive is not valid JSON (${(err as Error).message}).`,
          );
        }
        continue; // a damaged snapshot list stays as it was: the snapshot service says so, as for any VM
      }
      const mapped = mapStrings(value, map) as Record<string, unknown>;
      if (name === VM_CONFIG_FILE && mapped && typeof mapped === 'object') {
        mapped['name'] = to.name;
        // Its base came along: the imported VM is no clone of anything here.
        if (manifest.relink.length > 0) delete mapped['linkedClone'];
      }
      await writeFile(file, JSON.stringify(mapped, null, 2) + '\n', { mode: 0o600 });
    }
  }

  private async relink(staging: string, relinks: readonly ArchiveRelink[]): Promise<void> {
    if (relinks.length === 0) return;
    const qemuImg = await this.options.qemuImgPath();
    if (!qemuImg)
      throw new AppError('MISSING_DEPENDENCY', 'Re-linking a linked clone needs qemu-img (Debian: qemu-utils).');
    for (const r of relinks) {
      if (unsafeEntryPath(r.backing.replace(/^(\.\.\/)+/, '')) || r.backing.includes('\\')) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `The archive re-links ${r.path} to ${JSON.stringify(r.backing)}, an unsafe name.`,
        );
      }
      const image = path.join(staging, ...r.path.split('/'));
      if (!inside(staging, path.resolve(path.dirname(image), r.backing))) {
        throw new AppError('INVALID_ARGUMENT', `The archive re-links ${r.path} outside the VM's folder.`);
      }
      await relinkImage(qemuImg, image, r.backing);
    }
  }
}

/** Names the finished archive: a hard link never replaces a file; where links are not possible, a checked rename. */
async function giveName(partial: string, target: string): Promise<void> {
  try {
    await link(partial, target);
    await unlink(partial);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new AppError('ALREADY_EXISTS', `${target} appeared while the export ran; the export was not kept.`);
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
  }
  // File systems without hard links (FAT, exFAT: USB drives).
  if (await pathExists(target)) {
    throw new AppError('ALREADY_EXISTS', `${target} appeared while the export ran; the export was not kept.`);
  }
  await rename(partial, target);
}
