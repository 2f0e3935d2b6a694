// The `snapshots` control service: one engine-neutral snapshot tree per VM
// (vms/<uuid>/snapshots.json) over internal snapshots in the VM's qcow2 images. Live snapshots
// go through the running VM's engine host; a powered-off VM's images are changed here. Every
// operation writes an intent journal first, so one cut short by a kill is finished or undone
// the next time anyone looks at the VM. One operation at a time per VM.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { LiveSnapshotState, SavedStateMarker } from '../../../src-shared/contracts/engine';
import type { VmDetails, VmPowerState } from '../../../src-shared/contracts/library';
import type {
  SnapshotClone,
  SnapshotRepair,
  SnapshotInfo,
  SnapshotRestoreResult,
  SnapshotService,
  SnapshotTakeOptions,
  SnapshotTree,
  TrialEnd,
  TrialResult,
} from '../../../src-shared/contracts/snapshots';
import { AppError } from '../../../src-shared/errors';
import { parseVmConfig, type VmConfig } from '../../../src-shared/vm-config';
import { readJsonSync, writeJsonAtomic } from '../../../src-node/atomic-file';
import { isProcessAlive } from '../../../src-node/run-lock';
import { LAST_SCREEN_FILE, vmMarkerFiles } from '../../../src-node/run-folder';
import {
  applyImageSnapshot,
  createImageSnapshot,
  deleteImageSnapshot,
  imageSnapshotTags,
  snapshotImagesOf,
  type OfflineImageTools,
} from '../../../src-emulator/engines/offline-snapshots';
import { flattenImage } from '../../../src-emulator/engines/qemu/qemu-img';
import { writeVmConfig } from '../library/vm-store';
import type { Library } from '../library/library-service';
import type { VmRuntime } from '../vm-runtime/vm-runtime';

export const SNAPSHOTS_FILE = 'snapshots.json';
const JOURNAL_FILE = 'snapshots.journal.json';
const SNAPSHOT_FOLDER = 'snapshots';
const SCREEN_FILE = 'screen.png';
const V86_STATE_FILE = 'machine.v86state';
const TPM_FOLDER = 'tpm';

/** One snapshot as snapshots.json keeps it. */
interface SnapshotRecord extends Omit<SnapshotInfo, 'hasThumbnail'> {
  /** The internal snapshot name in every image. */
  readonly tag: string;
  /** The images the snapshot is in. */
  readonly images: readonly string[];
  /** Live snapshots: where RAM and devices are, per engine. */
  readonly live: LiveSnapshotState | null;
  readonly hasThumbnail: boolean;
}

interface SnapshotsFile {
  readonly version: 1;
  readonly currentId: string | null;
  readonly snapshots: readonly SnapshotRecord[];
}

type Journal =
  | { readonly op: 'take'; readonly pid: number; readonly at: string; readonly record: SnapshotRecord }
  | { readonly op: 'delete'; readonly pid: number; readonly at: string; readonly record: SnapshotRecord }
  | { readonly op: 'restore'; readonly pid: number; readonly at: string; readonly record: SnapshotRecord };

const EMPTY: SnapshotsFile = { version: 1, currentId: null, snapshots: [] };

export interface SnapshotServiceOptions {
  readonly library: Library;
  readonly runtime: VmRuntime;
  /** qemu-img for the images of powered-off VMs (null: Maru's own qcow2 code). */
  readonly imageTools: () => Promise<OfflineImageTools>;
  readonly onDidChange: (vmId: string) => void;
}

function label(vm: VmDetails): string {
  return JSON.stringify(vm.config.name);
}

/** Settings that must match for RAM saved under one to load under the other. */
function sameMachine(a: VmConfig, b: VmConfig): boolean {
  // Media may differ (an ISO or floppy swapped since); the drives themselves may not.
  const strip = (c: VmConfig): unknown => ({
    ...c,
    name: '',
    cdroms: c.cdroms.map((d) => ({ ...d, iso: null })),
    floppies: c.floppies.map((d) => ({ ...d, image: null })),
    // A cable and port forwards change while the VM runs; the adapters themselves do not.
    nics: c.nics.map((n) => ({ ...n, cableConnected: true, portForwards: [] })),
    modifiedAt: '',
  });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

export class Snapshots implements SnapshotService {
  private readonly busy = new Map<string, string>();
  private readonly recoveredNotes = new Map<string, string>();

  constructor(private readonly options: SnapshotServiceOptions) {}

  // ---- reads

  async list(vmRef: string): Promise<SnapshotTree> {
    const vm = await this.options.library.show(vmRef);
    if (!this.busy.has(vm.config.id)) await this.recover(vm);
    return this.treeOf(vm);
  }

  async thumbnail(vmRef: string, snapshotRef: string): Promise<{ readonly png: string } | null> {
    const vm = await this.options.library.show(vmRef);
    const record = this.find(vm, this.readFile(vm), snapshotRef);
    if (!record.hasThumbnail) return null;
    try {
      return { png: (await readFile(path.join(this.folderOf(vm, record.id), SCREEN_FILE))).toString('base64') };
    } catch {
      return null;
    }
  }

  // ---- operations

  take(vmRef: string, options: SnapshotTakeOptions, job: JobOptions = {}): Promise<SnapshotInfo> {
    return this.exclusive(vmRef, 'taking a snapshot', async (vm, file) => {
      const state = vm.state;
      if (state === 'saved') {
        throw new AppError(
          'BUSY',
          `VM ${label(vm)} has a saved state. Start it (then take a live snapshot) or discard the state first.`,
        );
      }
      const live = state === 'running' || state === 'paused';
      if (!live && vm.config.disks.length === 0) {
        throw new AppError('UNSUPPORTED', `VM ${label(vm)} has no disk: there is nothing to snapshot.`);
      }
      const id = randomUUID();
      const tag = `maru-snap-${id}`;
      const folder = this.folderOf(vm, id);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const base: SnapshotRecord = {
        id,
        tag,
        name: options.name?.trim() || `Snapshot ${file.snapshots.length + 1}`,
        description: options.description ?? '',
        parentId: file.currentId,
        createdAt: new Date().toISOString(),
        kind: live ? 'live' : 'disk',
        config: vm.config,
        images: snapshotImagesOf(vm.config, vm.folder),
        live: null,
        hasThumbnail: false,
        stateBytes: live ? null : 0,
      };
      await this.writeJournal(vm, { op: 'take', pid: process.pid, at: base.createdAt, record: base });
      try {
        return await this.takeJournaled(vm, file, base, live, job);
      } catch (err) {
        // Full disk: keep the guest paused (its own writes would fail next) before undoing.
        const full = await filledUp(vm, err);
        if (full && live) await this.options.runtime.pause(vm.config.id).catch(() => undefined);
        // Failed (not killed): undo what it wrote now, so the next look has nothing to recover.
        await this.undoTake(vm, base).catch(() => undefined);
        if (full) throw await noSpaceError(vm, live, err);
        throw err;
      }
    });
  }

  private async takeJournaled(
    vm: VmDetails,
    file: SnapshotsFile,
    base: SnapshotRecord,
    live: boolean,
    job: JobOptions,
  ): Promise<SnapshotInfo> {
    {
      const { id, tag } = base;
      const folder = this.folderOf(vm, id);
      let record = base;
      if (live) {
        job.onProgress?.({ phase: 'save', fraction: 0.1 });
        // The screen is read while the engine writes RAM (the guest is stopped then): no extra wait.
        const [hasThumbnail, state] = await Promise.all([
          this.saveScreen(vm, folder),
          this.options.runtime.withEngine(vm.config.id, (c) =>
            c.snapshotTake({ tag, stateFile: path.join(folder, V86_STATE_FILE) }),
          ),
        ]);
        record = { ...base, images: state.images, live: state, hasThumbnail, stateBytes: state.stateBytes };
      } else {
        const tools = await this.options.imageTools();
        for (const [i, image] of base.images.entries()) {
          job.onProgress?.({ phase: 'save', fraction: 0.1 + (0.8 * i) / base.images.length });
          await createImageSnapshot(image, tag, tools);
        }
        const tpm = path.join(vm.folder, TPM_FOLDER);
        if (existsSync(tpm)) await cp(tpm, path.join(folder, TPM_FOLDER), { recursive: true });
        // Off: the screen the VM showed last is the one it comes back to.
        const lastScreen = path.join(vm.folder, LAST_SCREEN_FILE);
        if (existsSync(lastScreen)) {
          await cp(lastScreen, path.join(folder, SCREEN_FILE));
          record = { ...record, hasThumbnail: true };
        }
      }
      job.onProgress?.({ phase: 'record', fraction: 0.95 });
      await this.writeTree(vm, { ...file, currentId: id, snapshots: [...file.snapshots, record] });
      await this.clearJournal(vm);
      job.onProgress?.({ phase: 'record', fraction: 1 });
      return this.infoOf(record);
    }
  }

  /** Removes a take's snapshot from the images, its folder and the journal. */
  private async undoTake(vm: VmDetails, record: SnapshotRecord): Promise<void> {
    let current = await this.options.library.show(vm.config.id);
    if (current.state === 'aborted') {
      // The engine host died: its QEMU may still be finishing the snapshot. End it before looking.
      await this.options.runtime.releaseAbandoned(vm.config.id);
      current = await this.options.library.show(vm.config.id);
    }
    if (current.state === 'running' || current.state === 'paused') {
      await this.options.runtime.withEngine(vm.config.id, (c) => c.snapshotDelete({ tag: record.tag }));
    } else {
      const tools = await this.options.imageTools();
      for (const image of record.images) await deleteImageSnapshot(image, record.tag, tools);
    }
    await rm(this.folderOf(vm, record.id), { recursive: true, force: true });
    await this.clearJournal(vm);
  }

  restore(vmRef: string, snapshotRef: string, job: JobOptions = {}): Promise<SnapshotRestoreResult> {
    return this.exclusive(vmRef, 'restoring a snapshot', async (vm, file) => {
      const record = this.find(vm, file, snapshotRef);
      const before = vm.state;
      const running = before === 'running' || before === 'paused';
      await this.assertRestorable(vm, record);
      await this.writeJournal(vm, { op: 'restore', pid: process.pid, at: new Date().toISOString(), record });
      let state: VmPowerState;
      let message: string;
      if (running && record.live?.engine === 'qemu' && sameMachine(record.config, vm.config)) {
        // In place: QEMU loads RAM, devices and disks into the running machine.
        job.onProgress?.({ phase: 'load', fraction: 0.2 });
        const status = await this.options.runtime.withEngine(vm.config.id, (c) =>
          c.snapshotRestore({ tag: record.tag, stateFile: path.join(this.folderOf(vm, record.id), V86_STATE_FILE) }),
        );
        state = status.state === 'paused' ? 'paused' : 'running';
        message = `VM ${label(vm)} is back at snapshot ${JSON.stringify(record.name)}.`;
      } else {
        if (running) {
          job.onProgress?.({ phase: 'stop', fraction: 0.1 });
          await this.options.runtime.stop(vm.config.id, { force: true });
        }
        job.onProgress?.({ phase: 'apply', fraction: 0.3 });
        await this.restoreOffline(await this.options.library.show(vm.config.id), record);
        if (running && record.live) {
          job.onProgress?.({ phase: 'start', fraction: 0.6 });
          await this.options.runtime.start(vm.config.id);
          state = 'running';
          message = `VM ${label(vm)} runs again from snapshot ${JSON.stringify(record.name)}.`;
        } else {
          state = record.live ? 'saved' : 'off';
          message = record.live
            ? `VM ${label(vm)} is at snapshot ${JSON.stringify(record.name)}; starting it resumes from there.`
            : `VM ${label(vm)}'s disks and settings are back at snapshot ${JSON.stringify(record.name)}; it is off.`;
        }
      }
      await this.writeTree(vm, { ...file, currentId: record.id });
      await this.clearJournal(vm);
      job.onProgress?.({ phase: 'done', fraction: 1 });
      return { tree: await this.treeOf(vm), state, message };
    });
  }

  delete(vmRef: string, snapshotRef: string, job: JobOptions = {}): Promise<SnapshotTree> {
    return this.exclusive(vmRef, 'deleting a snapshot', async (vm, file) => {
      const record = this.find(vm, file, snapshotRef);
      const marker = readJsonSync<SavedStateMarker>(vmMarkerFiles(vm.folder).savedState);
      if (marker?.keep && marker.tag === record.tag) {
        throw new AppError(
          'BUSY',
          `VM ${label(vm)} is saved at snapshot ${JSON.stringify(record.name)}: start it or discard its saved state ` +
            'before deleting that snapshot.',
        );
      }
      await this.writeJournal(vm, { op: 'delete', pid: process.pid, at: new Date().toISOString(), record });
      job.onProgress?.({ phase: 'delete', fraction: 0.1 });
      if (vm.state === 'running' || vm.state === 'paused') {
        await this.options.runtime.withEngine(vm.config.id, (c) => c.snapshotDelete({ tag: record.tag }));
      }
      await this.finishDelete(vm, record, file);
      job.onProgress?.({ phase: 'delete', fraction: 1 });
      return this.treeOf(vm);
    });
  }

  edit(vmRef: string, snapshotRef: string, changes: { name?: string; description?: string }): Promise<SnapshotInfo> {
    return this.exclusive(vmRef, 'editing a snapshot', async (vm, file) => {
      const record = this.find(vm, file, snapshotRef);
      const next: SnapshotRecord = {
        ...record,
        ...(changes.name !== undefined ? { name: changes.name.trim() } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
      };
      await this.writeTree(vm, { ...file, snapshots: file.snapshots.map((s) => (s.id === record.id ? next : s)) });
      return this.infoOf(next);
    });
  }

  repair(vmRef: string): Promise<SnapshotRepair> {
    return this.exclusive(vmRef, 'repairing its snapshots', async (vm, file) => {
      if (vm.state === 'running' || vm.state === 'paused') {
        throw new AppError('BUSY', `VM ${label(vm)} is running: power it off, then repair its snapshots.`);
      }
      // Each step is an idempotent deletion and the list is written once at the end: a repair cut
      // short leaves problems the next repair finds and finishes (no journal needed).
      const tools = await this.options.imageTools();
      const tagsOf = async (image: string): Promise<string[] | null> =>
        existsSync(image) ? await imageSnapshotTags(image, tools).catch(() => null) : null;
      const repaired: string[] = [];
      let { snapshots, currentId } = file;
      for (const r of file.snapshots) {
        const missingFrom: string[] = [];
        for (const image of r.images) if (!((await tagsOf(image)) ?? [r.tag]).includes(r.tag)) missingFrom.push(image);
        if (missingFrom.length === 0) continue;
        for (const image of r.images) {
          if ((await tagsOf(image))?.includes(r.tag)) await deleteImageSnapshot(image, r.tag, tools);
        }
        await rm(this.folderOf(vm, r.id), { recursive: true, force: true });
        snapshots = snapshots
          .filter((x) => x.id !== r.id)
          .map((x) => (x.parentId === r.id ? { ...x, parentId: r.parentId } : x));
        if (currentId === r.id) currentId = r.parentId;
        repaired.push(
          `Removed snapshot ${JSON.stringify(r.name)} from the list: it was not in ${missingFrom.join(', ')}, so it could not be restored.`,
        );
      }
      const known = new Set(snapshots.map((r) => r.tag));
      for (const image of snapshotImagesOf(vm.config, vm.folder)) {
        for (const tag of (await tagsOf(image)) ?? []) {
          if (tag.startsWith('maru-snap-') && !known.has(tag)) {
            await deleteImageSnapshot(image, tag, tools);
            repaired.push(`Deleted ${tag} from ${image}: the list did not know it.`);
          }
        }
      }
      if (snapshots !== file.snapshots) await this.writeTree(vm, { ...file, snapshots, currentId });
      return { tree: await this.treeOf(await this.options.library.show(vm.config.id)), repaired };
    });
  }

  async clone(
    vmRef: string,
    snapshotRef: string,
    options: { name: string },
    job: JobOptions = {},
  ): Promise<SnapshotClone> {
    const { record, copy } = await this.exclusive(vmRef, 'cloning from a snapshot', async (vm, file) => {
      const found = this.find(vm, file, snapshotRef);
      await this.assertRestorable(vm, found);
      // The whole VM, its tree included (the library refuses a running source, with the reason).
      const cloned = await this.options.library.clone(vm.config.id, options.name, {
        onProgress: (p) => job.onProgress?.({ phase: 'copy', fraction: 0.9 * p.fraction }),
        ...(job.signal ? { signal: job.signal } : {}),
      });
      return { record: found, copy: cloned };
    });
    try {
      job.onProgress?.({ phase: 'apply', fraction: 0.9 });
      await this.restore(copy.config.id, record.id);
    } catch (err) {
      // A copy that is not at the snapshot asked for is not what the user wanted: it goes.
      await this.options.library.delete(copy.config.id, { deleteDisks: true }).catch(() => undefined);
      throw err;
    }
    job.onProgress?.({ phase: 'done', fraction: 1 });
    return { vmId: copy.config.id, name: copy.config.name, snapshotId: record.id };
  }

  async tryCopy(vmRef: string, job: JobOptions = {}): Promise<TrialResult> {
    const src = await this.options.library.show(vmRef);
    const taken = new Set((await this.options.library.list()).flatMap((v) => (v.kind === 'ok' ? [v.name] : [])));
    let trialName = `${src.config.name} (trial)`;
    for (let n = 2; taken.has(trialName); n++) trialName = `${src.config.name} (trial ${n})`;
    const copy = (fraction: number, share: number) => (p: { fraction: number }) =>
      job.onProgress?.({ phase: 'copy', fraction: fraction + p.fraction * share });
    const trial = await this.options.library.makeLinkedClone(
      src.config.id,
      trialName,
      { trial: true },
      {
        onProgress: copy(0, 0.3),
      },
    );
    job.onProgress?.({ phase: 'start', fraction: 0.3 });
    try {
      await this.options.runtime.start(trial.config.id, {
        onProgress: (p) => job.onProgress?.({ phase: 'start', fraction: 0.3 + 0.7 * p.fraction }),
        ...(job.signal ? { signal: job.signal } : {}),
      });
    } catch (err) {
      // A trial that never ran is no use to anyone: it goes, with its overlays.
      await this.options.library.delete(trial.config.id, { deleteDisks: true }).catch(() => undefined);
      throw err;
    }
    return { trialId: trial.config.id, trialName, sourceId: src.config.id };
  }

  async endTrial(vmRef: string, options: { keep: boolean }, job: JobOptions = {}): Promise<TrialEnd> {
    const trial = await this.trialOf(vmRef);
    const id = trial.config.id;
    const name = trial.config.name;
    if (!options.keep) {
      if (trial.state === 'running' || trial.state === 'paused') await this.options.runtime.stop(id, { force: true });
      await this.options.library.delete(id, { deleteDisks: true });
      return { trialId: id, trialName: name, outcome: 'discarded' };
    }
    return this.exclusive(id, 'making the trial independent', async (vm, file) => {
      if (file.snapshots.length > 0) {
        throw new AppError(
          'BUSY',
          `Trial ${label(vm)} has snapshots; their disk states read from the base it shares. Delete them, then Keep.`,
        );
      }
      job.onProgress?.({ phase: 'flatten', fraction: 0.05 });
      if (vm.state === 'running' || vm.state === 'paused') {
        // QEMU copies the base into each overlay while the guest runs (block-stream).
        await this.options.runtime.withEngine(id, (c) => c.flattenDisks());
      } else if (vm.state === 'saved') {
        throw new AppError(
          'BUSY',
          `Trial ${label(vm)} has a saved state: start it (Keep works while it runs) or discard the state.`,
        );
      } else {
        const tools = await this.options.imageTools();
        if (!tools.qemuImgPath)
          throw new AppError('MISSING_DEPENDENCY', 'Keeping a trial needs qemu-img (Debian: qemu-utils).');
        for (const [i, d] of vm.disks.entries()) {
          job.onProgress?.({ phase: 'flatten', fraction: 0.05 + (0.9 * i) / vm.disks.length });
          await flattenImage(tools.qemuImgPath, d.path);
        }
      }
      const { linkedClone: _was, ...config } = vm.config;
      await writeVmConfig(vm.folder, { ...config, modifiedAt: new Date().toISOString() });
      job.onProgress?.({ phase: 'flatten', fraction: 1 });
      return { trialId: id, trialName: name, outcome: 'kept' as const };
    });
  }

  /** The trial `ref` names: the VM itself when it is a trial, else the one trial of that source. */
  private async trialOf(ref: string): Promise<VmDetails> {
    const vm = await this.options.library.show(ref);
    if (vm.config.linkedClone?.trial) return vm;
    const trials = (await this.options.library.linkedClonesOf(vm.config.id)).filter((c) => c.linkedClone?.trial);
    if (trials.length === 0) throw new AppError('NOT_FOUND', `VM ${label(vm)} is not a trial and has none.`);
    if (trials.length > 1) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `VM ${label(vm)} has ${trials.length} trials (${trials.map((t) => JSON.stringify(t.name)).join(', ')}); name the one to end.`,
      );
    }
    return this.options.library.show(trials[0]!.id);
  }

  /** Finishes or undoes what an interrupted operation left on a powered-off VM (before it starts). */
  async recoverBeforeStart(vmRef: string): Promise<void> {
    const vm = await this.options.library.show(vmRef);
    if (!this.busy.has(vm.config.id)) await this.recover(vm);
  }

  // ---- the parts

  /** Runs one operation on a VM: refused while another runs (here or in another Maru process). */
  private async exclusive<T>(
    vmRef: string,
    what: string,
    fn: (vm: VmDetails, file: SnapshotsFile) => Promise<T>,
  ): Promise<T> {
    let vm = await this.options.library.show(vmRef);
    const id = vm.config.id;
    const running = this.busy.get(id);
    if (running) {
      throw new AppError('BUSY', `VM ${label(vm)} is ${running} already; wait for it to finish, then try again.`);
    }
    this.busy.set(id, what);
    try {
      // A dead engine host may have left its QEMU holding the images: end it first.
      if (vm.state === 'aborted') await this.options.runtime.releaseAbandoned(id);
      await this.recover(await this.options.library.show(id));
      vm = await this.options.library.show(id);
      const file = this.readFile(vm);
      const result = await fn(vm, file);
      return result;
    } finally {
      this.busy.delete(id);
      this.options.onDidChange(id);
    }
  }

  private readFile(vm: VmDetails): SnapshotsFile {
    const parsed = readStrictJson(path.join(vm.folder, SNAPSHOTS_FILE), (why) => damaged(vm, why));
    if (parsed === undefined) return EMPTY;
    const f = parsed as Partial<SnapshotsFile>;
    if (typeof f !== 'object' || f.version !== 1 || !Array.isArray(f.snapshots)) {
      throw damaged(vm, 'it is not a version 1 snapshot list');
    }
    for (const s of f.snapshots) {
      if (!s || typeof s.id !== 'string' || typeof s.tag !== 'string') {
        throw damaged(vm, 'an entry lacks its id, image tag or settings');
      }
      // Settings saved by an older Maru (an older vm.json schema) are read as the current one, in memory.
      try {
        (s as { config: VmConfig }).config = parseVmConfig(s.config).config;
      } catch {
        throw damaged(vm, 'an entry lacks its id, image tag or settings');
      }
    }
    return { version: 1, currentId: f.currentId ?? null, snapshots: f.snapshots.map((r) => located(vm, r, 'resolve')) };
  }

  private async treeOf(vm: VmDetails): Promise<SnapshotTree> {
    const recovered = this.recoveredNotes.get(vm.config.id) ?? null;
    this.recoveredNotes.delete(vm.config.id);
    try {
      const file = this.readFile(vm);
      return {
        vmId: vm.config.id,
        snapshots: file.snapshots.map((s) => this.infoOf(s)),
        currentId: file.currentId,
        damaged: null,
        recovered,
        problems: await this.problemsOf(vm, file),
      };
    } catch (err) {
      return {
        vmId: vm.config.id,
        snapshots: [],
        currentId: null,
        damaged: (err as Error).message,
        recovered,
        problems: [],
      };
    }
  }

  /** Compares the images' snapshot tags with the list (reads only; qemu-img -U, or Maru's code while off). */
  private async problemsOf(vm: VmDetails, file: SnapshotsFile): Promise<string[]> {
    const tools = await this.options.imageTools();
    const running = vm.state === 'running' || vm.state === 'paused';
    if (running && !tools.qemuImgPath) return []; // Maru's own code does not open images a VM holds
    const tags = new Map<string, string[] | null>();
    const tagsOf = async (image: string): Promise<string[] | null> => {
      if (!tags.has(image)) {
        tags.set(image, existsSync(image) ? await imageSnapshotTags(image, tools).catch(() => null) : null);
      }
      return tags.get(image)!;
    };
    const problems: string[] = [];
    for (const r of file.snapshots) {
      for (const image of r.images) {
        const have = await tagsOf(image);
        if (have === null)
          problems.push(`Snapshot ${JSON.stringify(r.name)}: the image ${image} is missing or unreadable.`);
        else if (!have.includes(r.tag)) {
          problems.push(`Snapshot ${JSON.stringify(r.name)} is not in ${image}: it cannot be restored from there.`);
        }
      }
    }
    const known = new Set(file.snapshots.map((r) => r.tag));
    for (const image of snapshotImagesOf(vm.config, vm.folder)) {
      for (const tag of (await tagsOf(image)) ?? []) {
        if (tag.startsWith('maru-snap-') && !known.has(tag)) {
          problems.push(
            `${image} holds a snapshot (${tag}) the list does not know; it takes space and is never restored.`,
          );
        }
      }
    }
    return problems;
  }

  private infoOf(r: SnapshotRecord): SnapshotInfo {
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      parentId: r.parentId,
      createdAt: r.createdAt,
      kind: r.kind,
      config: r.config,
      hasThumbnail: r.hasThumbnail,
      stateBytes: r.stateBytes,
    };
  }

  /** By id, or by a name only one snapshot has (else the ids to choose from). */
  private find(vm: VmDetails, file: SnapshotsFile, ref: string): SnapshotRecord {
    const byId = file.snapshots.find((s) => s.id === ref);
    if (byId) return byId;
    // The short ids lists show (8 characters or more) work when only one id starts with them.
    const byPrefix = /^[0-9a-f-]{8,}$/.test(ref) ? file.snapshots.filter((s) => s.id.startsWith(ref)) : [];
    if (byPrefix.length === 1 && !file.snapshots.some((s) => s.name === ref)) return byPrefix[0]!;
    const named = file.snapshots.filter((s) => s.name === ref);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `VM ${label(vm)} has ${named.length} snapshots named ${JSON.stringify(ref)}; name one by its id: ` +
          named.map((s) => `${s.id} (${s.createdAt})`).join(', ') +
          '.',
      );
    }
    throw new AppError('NOT_FOUND', `VM ${label(vm)} has no snapshot ${JSON.stringify(ref)}.`);
  }

  private folderOf(vm: VmDetails, id: string): string {
    return path.join(vm.folder, SNAPSHOT_FOLDER, id);
  }

  private async writeTree(vm: VmDetails, file: SnapshotsFile): Promise<void> {
    // Paths inside the VM's folder are kept relative: a cloned or moved VM finds its own images.
    const stored = { ...file, snapshots: file.snapshots.map((r) => located(vm, r, 'relative')) };
    await writeJsonAtomic(path.join(vm.folder, SNAPSHOTS_FILE), stored);
  }

  private async writeJournal(vm: VmDetails, journal: Journal): Promise<void> {
    await writeJsonAtomic(path.join(vm.folder, JOURNAL_FILE), journal);
  }

  private async clearJournal(vm: VmDetails): Promise<void> {
    await rm(path.join(vm.folder, JOURNAL_FILE), { force: true });
  }

  private async saveScreen(vm: VmDetails, folder: string): Promise<boolean> {
    try {
      const shot = await this.options.runtime.screenshot(vm.config.id);
      await writeFile(path.join(folder, SCREEN_FILE), Buffer.from(shot.pngBase64, 'base64'), { mode: 0o600 });
      return true;
    } catch {
      return false; // no screen to keep (e.g. the display is not up yet): the snapshot goes on without one
    }
  }

  /** Disks (and NVRAM), settings and TPM back as `record` holds them; a live snapshot becomes the saved state. */
  private async restoreOffline(vm: VmDetails, record: SnapshotRecord): Promise<void> {
    const tools = await this.options.imageTools();
    const markerFile = vmMarkerFiles(vm.folder).savedState;
    const marker = readJsonSync<SavedStateMarker>(markerFile);
    if (marker && !(marker.keep && marker.tag === record.tag)) {
      // The current saved state is part of the state being replaced.
      await this.options.runtime.discardState(vm.config.id);
    }
    await this.assertRestorable(vm, record);
    for (const image of record.images) await applyImageSnapshot(image, record.tag, tools);
    await writeVmConfig(vm.folder, { ...record.config, id: vm.config.id, name: vm.config.name });
    // The library row shows the snapshot's screen until the VM runs again.
    const lastScreen = path.join(vm.folder, LAST_SCREEN_FILE);
    if (record.hasThumbnail) await cp(path.join(this.folderOf(vm, record.id), SCREEN_FILE), lastScreen);
    else await rm(lastScreen, { force: true });
    const savedTpm = path.join(this.folderOf(vm, record.id), TPM_FOLDER);
    if (!record.live && existsSync(savedTpm)) {
      const tpm = path.join(vm.folder, TPM_FOLDER);
      await rm(tpm, { recursive: true, force: true });
      await cp(savedTpm, tpm, { recursive: true });
    }
    if (record.live) {
      const resume: SavedStateMarker = {
        engine: record.live.engine,
        engineVersion: record.live.engineVersion,
        savedAt: record.createdAt,
        tag: record.tag,
        vmstateNode: record.live.vmstateNode,
        devices: record.live.devices,
        images: record.live.images,
        keep: true,
      };
      await writeJsonAtomic(markerFile, resume);
    } else {
      await rm(markerFile, { force: true });
    }
  }

  /** Every image still holds the snapshot (checked before anything is changed). */
  private async assertRestorable(vm: VmDetails, record: SnapshotRecord): Promise<void> {
    const tools = await this.options.imageTools();
    const running = vm.state === 'running' || vm.state === 'paused';
    if (running && !tools.qemuImgPath) return;
    for (const image of record.images) {
      if (existsSync(image) && !(await imageSnapshotTags(image, tools)).includes(record.tag)) {
        throw new AppError(
          'UNSUPPORTED',
          `Snapshot ${JSON.stringify(record.name)} is not in VM ${label(vm)}'s current disk ${image}, so it cannot ` +
            'be restored. Either a linked clone or trial froze the disks after it was taken (its state lives in their ' +
            'shared base), or the image was changed outside Maru.',
        );
      }
    }
  }

  private async finishDelete(vm: VmDetails, record: SnapshotRecord, file: SnapshotsFile): Promise<void> {
    if (vm.state !== 'running' && vm.state !== 'paused') {
      const tools = await this.options.imageTools();
      for (const image of record.images) await deleteImageSnapshot(image, record.tag, tools);
    }
    await rm(this.folderOf(vm, record.id), { recursive: true, force: true });
    const snapshots = file.snapshots
      .filter((s) => s.id !== record.id)
      .map((s) => (s.parentId === record.id ? { ...s, parentId: record.parentId } : s));
    const currentId = file.currentId === record.id ? record.parentId : file.currentId;
    await this.writeTree(vm, { ...file, snapshots, currentId });
    await this.clearJournal(vm);
  }

  /**
   * An operation whose process died left its journal: finish it (delete, restore) or, for a
   * take, keep the snapshot when every image has it and undo it otherwise. Only on a VM that
   * is not running (the images are free); says what it did in the next tree read.
   */
  private async recover(vm: VmDetails): Promise<void> {
    const journalFile = path.join(vm.folder, JOURNAL_FILE);
    const journal = readStrictJson(journalFile, (why) => damagedJournal(vm, journalFile, why)) as Journal | undefined;
    if (!journal) return;
    if (
      !journal.record ||
      typeof journal.record.tag !== 'string' ||
      !['take', 'delete', 'restore'].includes(journal.op)
    ) {
      throw damagedJournal(vm, journalFile, 'it is not a Maru snapshot journal');
    }
    if (vm.state === 'aborted') {
      // A dead engine host may have left its QEMU holding the images: end it first.
      await this.options.runtime.releaseAbandoned(vm.config.id);
      vm = await this.options.library.show(vm.config.id);
    }
    if (journal.pid !== process.pid && isProcessAlive(journal.pid)) {
      throw new AppError(
        'BUSY',
        `Another Maru process (pid ${journal.pid}) is ${journal.op === 'take' ? 'taking' : journal.op === 'delete' ? 'deleting' : 'restoring'} ` +
          `a snapshot of VM ${label(vm)}; wait for it to finish.`,
      );
    }
    const file = this.readFile(vm);
    const record = journal.record;
    const name = JSON.stringify(record.name);
    let note: string;
    if (journal.op === 'take') {
      const tools = await this.options.imageTools();
      const running = vm.state === 'running' || vm.state === 'paused';
      const images = running ? [] : record.images;
      const complete = !running && (await everyImageHas(images, record.tag, tools)) && record.images.length > 0;
      if (complete && record.kind === 'disk') {
        await this.writeTree(vm, {
          ...file,
          currentId: record.id,
          snapshots: [...file.snapshots.filter((s) => s.id !== record.id), record],
        });
        note = `Taking snapshot ${name} was cut short after every image had it: it is kept.`;
      } else {
        // A live take cut short cannot tell whether its RAM part is whole: undo it.
        if (running) {
          await this.options.runtime
            .withEngine(vm.config.id, (c) => c.snapshotDelete({ tag: record.tag }))
            .catch(() => undefined);
        } else {
          for (const image of images) await deleteImageSnapshot(image, record.tag, tools);
        }
        await rm(this.folderOf(vm, record.id), { recursive: true, force: true });
        note = `Taking snapshot ${name} was cut short; what it had written was removed, and the VM is as it was before.`;
      }
    } else if (journal.op === 'delete') {
      if (vm.state === 'running' || vm.state === 'paused') {
        await this.options.runtime.withEngine(vm.config.id, (c) => c.snapshotDelete({ tag: record.tag }));
      }
      await this.finishDelete(vm, record, file);
      note = `Deleting snapshot ${name} was cut short; it has now been finished.`;
    } else if (vm.state === 'running' || vm.state === 'paused') {
      // It runs again: the restore got as far as starting the VM from the snapshot.
      await this.writeTree(vm, { ...file, currentId: record.id });
      note = `Restoring snapshot ${name} was cut short after the VM was started from it; it is marked current.`;
    } else {
      try {
        await this.restoreOffline(vm, record);
      } catch (err) {
        await rm(journalFile, { force: true });
        this.recoveredNotes.set(
          vm.config.id,
          `Restoring snapshot ${name} was cut short and cannot be finished: ${(err as Error).message}`,
        );
        this.options.onDidChange(vm.config.id);
        return;
      }
      await this.writeTree(vm, { ...file, currentId: record.id });
      note = `Restoring snapshot ${name} was cut short; it has now been finished (the VM is ${record.live ? 'saved at it' : 'off'}).`;
    }
    await rm(journalFile, { force: true });
    this.recoveredNotes.set(vm.config.id, note);
    this.options.onDidChange(vm.config.id);
  }
}

async function everyImageHas(images: readonly string[], tag: string, tools: OfflineImageTools): Promise<boolean> {
  for (const image of images) {
    if (!existsSync(image) || !(await imageSnapshotTags(image, tools)).includes(tag)) return false;
  }
  return true;
}

/** A record's image and state-file paths, relative to the VM folder (stored) or absolute (in use). */
function located(vm: VmDetails, r: SnapshotRecord, to: 'relative' | 'resolve'): SnapshotRecord {
  const map = (p: string): string => {
    if (to === 'resolve') return path.isAbsolute(p) ? p : path.join(vm.folder, p);
    const rel = path.relative(vm.folder, p);
    return path.isAbsolute(p) && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
  };
  const images = r.images.map(map);
  if (!r.live) return { ...r, images };
  const v86 = r.live.engine === 'v86';
  return {
    ...r,
    images,
    live: {
      ...r.live,
      images: r.live.images.map(map),
      vmstateNode: v86 ? map(r.live.vmstateNode) : r.live.vmstateNode,
    },
  };
}

/** The parsed file, undefined when it does not exist; anything unreadable is `fail(why)`, never "empty". */
function readStrictJson(file: string, fail: (why: string) => AppError): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fail((err as Error).message);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw fail(`it is not valid JSON (${(err as Error).message})`);
  }
}

function damagedJournal(vm: VmDetails, file: string, why: string): AppError {
  return new AppError(
    'IO',
    `The snapshot journal of VM ${label(vm)} (${file}) cannot be read: ${why}. An interrupted snapshot operation ` +
      'cannot be finished from it; Maru leaves it in place and changes nothing. Move it away once the images are checked.',
  );
}

function damaged(vm: VmDetails, why: string): AppError {
  return new AppError(
    'IO',
    `The snapshot list of VM ${label(vm)} (${path.join(vm.folder, SNAPSHOTS_FILE)}) cannot be read: ${why}. ` +
      'Maru leaves the file as it is; restore it from a backup, or move it away to start a new list.',
  );
}

/** Below this much free space a failed write is taken for a full disk. */
const NEARLY_FULL_BYTES = 64 * 2 ** 20;

/**
 * Whether a failed take failed because the VM's disk filled up: the error says so (Node's and
 * qemu-img's ENOSPC), or it is an I/O error — QEMU reports a full disk under a vmstate write as
 * "Input/output error" — and the filesystem is (nearly) full right after it.
 */
async function filledUp(vm: VmDetails, err: unknown): Promise<boolean> {
  const e = err as { code?: unknown; message?: unknown } | null;
  const text = String(e?.message ?? err);
  if (e?.code === 'ENOSPC' || /no space left on device|ENOSPC/i.test(text)) return true;
  if (!/input\/output error|EIO\b/i.test(text)) return false;
  const free = await statfs(vm.folder).then(
    (s) => s.bavail * s.bsize,
    () => Infinity,
  );
  return free < NEARLY_FULL_BYTES;
}

/** What a take that filled the disk tells the user: what happened, the figures, what to do. */
async function noSpaceError(vm: VmDetails, live: boolean, cause: unknown): Promise<AppError> {
  const free = await statfs(vm.folder).then(
    (s) => s.bavail * s.bsize,
    () => null,
  );
  const freeText = free === null ? '' : ` (${(free / 2 ** 20).toFixed(0)} MiB free now)`;
  const state = live ? ' The VM is paused so that its own writes do not fail; resume it once there is room.' : '';
  return new AppError(
    'HOST_LIMIT',
    `The disk holding VM ${label(vm)} filled up while taking the snapshot${freeText}. The snapshot was not taken and nothing was lost.${state} Free some space on that disk, then take the snapshot again.`,
    { freeBytes: free, cause: String((cause as Error | null)?.message ?? cause) },
  );
}
