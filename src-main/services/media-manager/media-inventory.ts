// The media manager: every disk, ISO and floppy image Maru knows — in its own folders, in a VM's
// settings or in one of its snapshots, or read through a linked clone's overlay — with who uses
// it, what is missing and what is orphaned; and the two actions on a medium, release and remove.
import { readFile, readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { VmPowerState } from '../../../src-shared/contracts/library';
import type {
  MediaInventory,
  MediumEntry,
  MediumLocation,
  MediumReleaseResult,
  MediumType,
  MediumUse,
} from '../../../src-shared/contracts/media';
import { AppError } from '../../../src-shared/errors';
import { readQcow2Info } from '../../../src-emulator/disk/qcow2-create';
import { FLOPPY_FORMATS } from '../../../src-shared/storage-layout';
import { fsyncFolder } from '../../../src-node/atomic-file';
import type { Library } from '../library/library-service';
import { powerStateOf, readAllVmRecords } from '../library/vm-store';
import { disksFolder, orphanedDisksFolder } from '../maru-home';
import { isoFolder } from '../iso-detect/media-service';

export interface MediaInventoryOptions {
  readonly maruHome: string;
  readonly library: Library;
  /** Empties a VM's CD/DVD or floppy drive (the running engine's drive when it runs). */
  readonly ejectMedium: (vmId: string, driveId: string) => Promise<unknown>;
  readonly onDidChange: () => void;
}

/** A reference to a medium from a VM's settings (now, or as a snapshot keeps them). */
interface Reference {
  readonly file: string;
  readonly type: MediumType;
  readonly use: MediumUse;
}

/** The drive lists of a vm.json or of a snapshot's settings, read leniently (older schemas too). */
interface DriveLists {
  readonly disks?: readonly { id?: unknown; file?: unknown }[];
  readonly cdroms?: readonly { id?: unknown; iso?: unknown }[];
  readonly floppies?: readonly { id?: unknown; image?: unknown }[];
  /** Schema 2: the one CD/DVD drive. */
  readonly cdrom?: { iso?: unknown };
}

const DISK_EXTENSIONS = new Set(['.qcow2', '.vmdk', '.vdi', '.vhd', '.vhdx', '.raw', '.img', '.bin']);
const FLOPPY_EXTENSIONS = new Set(['.img', '.ima', '.flp', '.vfd']);
const FLOPPY_BYTES = new Set<number>(FLOPPY_FORMATS.map((f) => f.bytes));

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function driveRefs(folder: string, lists: DriveLists, use: (driveId: string) => MediumUse): Reference[] {
  const out: Reference[] = [];
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  for (const d of lists.disks ?? []) {
    const file = str(d.file);
    if (file) out.push({ file: path.resolve(folder, file), type: 'hdd', use: use(str(d.id) ?? 'disk') });
  }
  const cdroms = lists.cdroms ?? (lists.cdrom ? [{ id: 'cdrom', iso: lists.cdrom.iso }] : []);
  for (const d of cdroms) {
    const file = str(d.iso);
    if (file) out.push({ file: path.resolve(file), type: 'dvd', use: use(str(d.id) ?? 'cdrom') });
  }
  for (const d of lists.floppies ?? []) {
    const file = str(d.image);
    if (file) out.push({ file: path.resolve(file), type: 'fdd', use: use(str(d.id) ?? 'floppy') });
  }
  return out;
}

/** The snapshots a VM's snapshots.json lists, with their settings (null: no file). */
async function readSnapshotSettings(
  folder: string,
): Promise<{ id: string; name: string; config: DriveLists }[] | null> {
  let text: string;
  try {
    text = await readFile(path.join(folder, 'snapshots.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = JSON.parse(text) as { snapshots?: unknown };
  if (!Array.isArray(parsed.snapshots)) throw new Error('it has no "snapshots" list');
  return (parsed.snapshots as { id?: unknown; name?: unknown; config?: unknown }[]).flatMap((s) =>
    typeof s?.id === 'string' && s.config && typeof s.config === 'object'
      ? [{ id: s.id, name: typeof s.name === 'string' ? s.name : s.id, config: s.config as DriveLists }]
      : [],
  );
}

/** Image files directly in `folder` (and, with `depth`, its sub-folders); hidden files are skipped. */
async function imageFiles(folder: string, depth: number): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // temporary files of a copy under way
    const p = path.join(folder, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await imageFiles(p, depth - 1)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** What kind of medium a file is, by what Maru knows of it (a reference) or its name and size. */
function typeOf(file: string, sizeBytes: number | null): MediumType | null {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.iso') return 'dvd';
  if (FLOPPY_EXTENSIONS.has(ext) && (sizeBytes === null || FLOPPY_BYTES.has(sizeBytes))) return 'fdd';
  if (DISK_EXTENSIONS.has(ext)) return 'hdd';
  return null;
}

function formatOf(file: string, type: MediumType, qcow2: boolean): string | null {
  if (qcow2) return 'qcow2';
  if (type === 'dvd') return 'iso';
  if (type === 'fdd') return 'img';
  const ext = path.extname(file).toLowerCase().slice(1);
  return ext === 'img' || ext === 'bin' ? 'raw' : ext || null;
}

export class MediaManager {
  constructor(private readonly opts: MediaInventoryOptions) {}

  private location(file: string, vmFolders: readonly string[]): MediumLocation {
    const home = this.opts.maruHome;
    if (inside(disksFolder(home), file)) return 'imported';
    if (inside(orphanedDisksFolder(home), file)) return 'orphaned';
    if (inside(isoFolder(home), file)) return 'isos';
    if (vmFolders.some((f) => inside(f, file))) return 'vm';
    return 'outside';
  }

  async list(): Promise<MediaInventory> {
    const home = this.opts.maruHome;
    const problems: string[] = [];
    const refs: Reference[] = [];
    const vmFolders: string[] = [];
    const found = new Set<string>();
    for (const rec of await readAllVmRecords(home)) {
      vmFolders.push(rec.folder);
      for (const f of await imageFiles(path.join(rec.folder, 'disks'), 0)) found.add(f);
      if (rec.kind !== 'ok') {
        problems.push(
          `The settings of the VM in ${rec.folder} cannot be read (${rec.error}); its media are not listed.`,
        );
        continue;
      }
      const c = rec.config;
      const state: VmPowerState = await powerStateOf(home, c.id);
      const use =
        (snapshot: MediumUse['snapshot']) =>
        (driveId: string): MediumUse => ({ vmId: c.id, vmName: c.name, vmState: state, driveId, snapshot, via: null });
      refs.push(...driveRefs(rec.folder, c, use(null)));
      try {
        for (const s of (await readSnapshotSettings(rec.folder)) ?? []) {
          refs.push(...driveRefs(rec.folder, s.config, use({ id: s.id, name: s.name })));
        }
      } catch (err) {
        problems.push(
          `The snapshot list of VM ${JSON.stringify(c.name)} cannot be read (${(err as Error).message}); ` +
            'the media its snapshots hold are not listed.',
        );
      }
    }
    for (const folder of [disksFolder(home), isoFolder(home)])
      for (const f of await imageFiles(folder, 0)) found.add(f);
    for (const f of await imageFiles(orphanedDisksFolder(home), 1)) found.add(f);

    // One entry per file; a qcow2's backing chain makes its bases used by the overlay's users.
    const byPath = new Map<string, { type: MediumType; uses: MediumUse[] }>();
    const add = (file: string, type: MediumType, use: MediumUse | null): void => {
      const e = byPath.get(file) ?? { type, uses: [] };
      if (use && !e.uses.some((u) => sameUse(u, use))) e.uses.push(use);
      byPath.set(file, e);
    };
    for (const r of refs) add(r.file, r.type, r.use);
    for (const f of found) {
      if (byPath.has(f)) continue;
      const size = await stat(f).then(
        (s) => s.size,
        () => null,
      );
      const type = typeOf(f, size);
      if (type) add(f, type, null);
    }

    const media: MediumEntry[] = [];
    const describe = async (file: string): Promise<void> => {
      const e = byPath.get(file)!;
      let st = null;
      try {
        st = await stat(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      let qcow2 = null;
      let problem: string | null = null;
      if (st && e.type === 'hdd') {
        qcow2 = await readQcow2Info(file).catch((err: unknown) => {
          if (path.extname(file) === '.qcow2') problem = `It cannot be read as qcow2: ${(err as Error).message}`;
          return null;
        });
      }
      const backing = qcow2?.backingFile ? path.resolve(path.dirname(file), qcow2.backingFile) : null;
      if (backing) {
        // The base is read by whoever uses this overlay.
        add(backing, 'hdd', null);
        for (const u of e.uses) add(backing, 'hdd', { ...u, via: u.via ?? file });
      }
      if (st === null) problem = `The file is missing; ${usersText(e.uses) ?? 'nothing refers to it'}.`;
      const location = this.location(file, vmFolders);
      media.push({
        path: file,
        type: e.type,
        format: st ? formatOf(file, e.type, qcow2 !== null) : null,
        virtualSizeBytes: st ? (qcow2?.virtualSize ?? st.size) : null,
        actualSizeBytes: st ? (typeof st.blocks === 'number' ? st.blocks * 512 : st.size) : null,
        exists: st !== null,
        location,
        backingFile: backing,
        usedBy: e.uses,
        orphan: st !== null && location !== 'outside' && e.uses.length === 0,
        problem,
      });
    };
    // Overlays first, so a base learns its users before it is described.
    const order = [...byPath.keys()];
    for (let i = 0; i < order.length; i++) {
      await describe(order[i]!);
      for (const p of byPath.keys()) if (!order.includes(p)) order.push(p);
    }
    // A base listed before one of its overlays: its users are known only now.
    const final = media.map((m) => ({
      ...m,
      usedBy: byPath.get(m.path)!.uses,
      orphan: m.orphan && byPath.get(m.path)!.uses.length === 0,
    }));
    final.sort((a, b) => a.type.localeCompare(b.type) || a.path.localeCompare(b.path));
    return { media: final, problems };
  }

  /** The listed entry for `file`, or NOT_FOUND saying what the media manager lists. */
  private async entry(file: string): Promise<MediumEntry> {
    if (!path.isAbsolute(file)) throw new AppError('INVALID_ARGUMENT', `${file} is not an absolute path.`);
    const want = path.resolve(file);
    const e = (await this.list()).media.find((m) => m.path === want);
    if (!e) {
      throw new AppError(
        'NOT_FOUND',
        `${file} is not a medium Maru knows: it is in no VM's settings or snapshots and not in Maru's folders ` +
          '(see "maru media list").',
      );
    }
    return e;
  }

  async release(file: string): Promise<MediumReleaseResult> {
    const e = await this.entry(file);
    const current = e.usedBy.filter((u) => u.snapshot === null && u.via === null);
    const running = current.filter((u) => e.type === 'hdd' && u.vmState !== 'off' && u.vmState !== 'aborted');
    if (running.length) {
      const u = running[0]!;
      throw new AppError(
        'BUSY',
        `${e.path} is disk ${u.driveId} of VM ${JSON.stringify(u.vmName)}, which is ${u.vmState}; a disk is released ` +
          'only from a VM that is off. Shut it down (or discard its saved state) first. Nothing was changed.',
      );
    }
    const released: { vmId: string; vmName: string; driveId: string }[] = [];
    for (const u of current) {
      if (e.type === 'hdd') await this.opts.library.detachStorage(u.vmId, u.driveId);
      else await this.opts.ejectMedium(u.vmId, u.driveId);
      released.push({ vmId: u.vmId, vmName: u.vmName, driveId: u.driveId });
    }
    const notes: string[] = [];
    const held = unique(
      e.usedBy.filter((u) => u.snapshot).map((u) => `${JSON.stringify(u.vmName)} ("${u.snapshot!.name}")`),
    );
    if (held.length) notes.push(`Snapshots still hold it: ${held.join(', ')}; restoring one puts it back.`);
    const through = unique(e.usedBy.filter((u) => u.via && !u.snapshot).map((u) => JSON.stringify(u.vmName)));
    if (through.length) {
      notes.push(
        `It is the frozen base of linked-clone disks (${through.join(', ')}); it stays until they are deleted or made independent.`,
      );
    }
    if (released.length === 0 && notes.length === 0) notes.push('No VM uses it; nothing to release.');
    if (released.length) this.opts.onDidChange();
    return { released, notes };
  }

  async remove(file: string): Promise<{ readonly removed: string }> {
    const e = await this.entry(file);
    if (!e.exists) throw new AppError('NOT_FOUND', `${e.path} is already missing; there is nothing to delete.`);
    if (e.usedBy.length) {
      const u = e.usedBy[0]!;
      const who = u.snapshot
        ? `snapshot ${JSON.stringify(u.snapshot.name)} of VM ${JSON.stringify(u.vmName)}`
        : u.via
          ? `VM ${JSON.stringify(u.vmName)} (the base of its disk ${u.driveId})`
          : `VM ${JSON.stringify(u.vmName)} (drive ${u.driveId})`;
      throw new AppError(
        'BUSY',
        `${e.path} is in use by ${who}${e.usedBy.length > 1 ? ` and ${e.usedBy.length - 1} more` : ''}; ` +
          'release it (and delete the snapshots that hold it) first. Nothing was deleted.',
      );
    }
    if (e.location === 'outside') {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${e.path} is not in Maru's folders; Maru deletes only files it made. Delete it yourself if you no longer need it.`,
      );
    }
    await rm(e.path);
    const folder = path.dirname(e.path);
    await fsyncFolder(folder);
    // A deleted VM's kept-disks folder goes once its last disk is gone.
    if (e.location === 'orphaned' && path.dirname(folder) === orphanedDisksFolder(this.opts.maruHome)) {
      await rmdir(folder).catch(() => undefined);
    }
    this.opts.onDidChange();
    return { removed: e.path };
  }
}

function sameUse(a: MediumUse, b: MediumUse): boolean {
  return a.vmId === b.vmId && a.driveId === b.driveId && a.snapshot?.id === b.snapshot?.id && a.via === b.via;
}

/** "it is used by "box" and its snapshot "before", and "kid"" (null: no user). */
function usersText(uses: readonly MediumUse[]): string | null {
  const byVm = new Map<string, { now: boolean; snapshots: string[] }>();
  for (const u of uses) {
    const v = byVm.get(u.vmName) ?? { now: false, snapshots: [] };
    if (u.snapshot) v.snapshots.push(`"${u.snapshot.name}"`);
    else v.now = true;
    byVm.set(u.vmName, v);
  }
  const parts = [...byVm].map(([name, v]) => {
    const snaps = unique(v.snapshots);
    const noun = snaps.length > 1 ? 'snapshots' : 'snapshot';
    if (!v.now) return `${noun} ${snaps.join(', ')} of "${name}"`;
    return snaps.length ? `"${name}" and its ${noun} ${snaps.join(', ')}` : `"${name}"`;
  });
  return parts.length ? `it is used by ${parts.join(', ')}` : null;
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
